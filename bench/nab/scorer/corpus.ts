import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NabError } from './error.ts';
import type { Profiles } from './score-corpus.ts';
import type { ScoredFile, WindowLimits } from './sweeper.ts';
import { parseNabTimestamp } from './timestamp.ts';

/** One labelled data file of a NAB-layout folder. */
export interface NabDataFile {
  /** Path relative to data/, with forward slashes: `realKnownCause/nyc_taxi.csv` (its key in the label files). */
  name: string;
  /** Timestamps as written in the file, and in epoch ms (read as UTC). */
  rawTimestamps: string[];
  timestamps: number[];
  /** Values as written in the file, and as numbers. */
  rawValues: string[];
  values: number[];
  /** From labels/combined_windows.json, in epoch ms. */
  windows: WindowLimits[];
}

/** A NAB-layout folder: `data/<category>/<file>.csv`, `labels/combined_windows.json`, `config/profiles.json`. */
export interface NabCorpus {
  dir: string;
  /** Labelled data files, sorted by name. */
  files: NabDataFile[];
  profiles: Profiles;
  /** Data files without an entry in combined_windows.json: NAB neither runs nor scores them. */
  unlabelled: string[];
}

function readText(file: string): string {
  if (!existsSync(file)) throw new NabError('NAB_LAYOUT', `missing ${file}`, { file });
  return readFileSync(file, 'utf8');
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readText(file));
  } catch (err) {
    if (err instanceof NabError) throw err;
    throw new NabError('NAB_FORMAT', `${file} is not JSON: ${(err as Error).message}`, { file });
  }
}

/** Rows of a comma-separated file as NAB writes them (no quoting), header first. */
function readCsv(file: string): { header: string[]; rows: string[][] } {
  const lines = readText(file).split(/\r?\n/).filter((line) => line.length > 0);
  const [head, ...rest] = lines;
  if (head === undefined) throw new NabError('NAB_FORMAT', `${file} is empty`, { file });
  return { header: head.split(',').map((h) => h.trim()), rows: rest.map((line) => line.split(',')) };
}

function column(file: string, header: string[], name: string): number {
  const at = header.indexOf(name);
  if (at < 0) throw new NabError('NAB_FORMAT', `${file} has no "${name}" column`, { file, header });
  return at;
}

function listCsv(dir: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) found.push(...listCsv(path.join(dir, entry.name), rel));
    else if (entry.name.endsWith('.csv')) found.push(rel);
  }
  return found;
}

function parseProfiles(file: string, json: unknown): Profiles {
  const profiles: Record<string, { CostMatrix: { tpWeight: number; fpWeight: number; fnWeight: number } }> = {};
  if (typeof json !== 'object' || json === null) throw new NabError('NAB_FORMAT', `${file}: expected an object`, { file });
  for (const [name, value] of Object.entries(json)) {
    const costs = (value as { CostMatrix?: Record<string, unknown> } | null)?.CostMatrix;
    const weight = (key: string): number => {
      const w = costs?.[key];
      if (typeof w !== 'number' || !Number.isFinite(w)) {
        throw new NabError('NAB_FORMAT', `${file}: profile ${name} has no numeric CostMatrix.${key}`, { file, profile: name });
      }
      return w;
    };
    profiles[name] = { CostMatrix: { tpWeight: weight('tpWeight'), fpWeight: weight('fpWeight'), fnWeight: weight('fnWeight') } };
  }
  return profiles;
}

/** Reads a NAB-layout folder; refuses a labelled file that is missing or a window that does not parse. */
export function loadNabCorpus(dir: string): NabCorpus {
  const dataDir = path.join(dir, 'data');
  if (!existsSync(dataDir)) throw new NabError('NAB_LAYOUT', `missing ${dataDir}`, { dir });
  const windowsFile = path.join(dir, 'labels', 'combined_windows.json');
  const windowsJson = readJson(windowsFile);
  if (typeof windowsJson !== 'object' || windowsJson === null) {
    throw new NabError('NAB_FORMAT', `${windowsFile}: expected an object of file → windows`, { file: windowsFile });
  }
  const labelled = windowsJson as Record<string, unknown>;
  const profilesFile = path.join(dir, 'config', 'profiles.json');
  const profiles = parseProfiles(profilesFile, readJson(profilesFile));

  const present = new Set(listCsv(dataDir));
  const files: NabDataFile[] = [];
  for (const name of Object.keys(labelled).sort()) {
    if (!present.has(name)) throw new NabError('NAB_LAYOUT', `${windowsFile} labels ${name}, which is not in ${dataDir}`, { file: name });
    const limits = labelled[name];
    if (!Array.isArray(limits)) throw new NabError('NAB_FORMAT', `${windowsFile}: windows of ${name} are not a list`, { file: name });
    const windows = limits.map((w): WindowLimits => {
      if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== 'string' || typeof w[1] !== 'string') {
        throw new NabError('NAB_FORMAT', `${windowsFile}: a window of ${name} is not [start, end]`, { file: name });
      }
      return [parseNabTimestamp(w[0]), parseNabTimestamp(w[1])];
    });

    const csvFile = path.join(dataDir, ...name.split('/'));
    const { header, rows } = readCsv(csvFile);
    const tsAt = column(csvFile, header, 'timestamp');
    const valueAt = column(csvFile, header, 'value');
    const rawTimestamps = rows.map((r) => (r[tsAt] ?? '').trim());
    const rawValues = rows.map((r) => (r[valueAt] ?? '').trim());
    const values = rawValues.map((v, i) => {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n)) throw new NabError('NAB_FORMAT', `${csvFile}: row ${i + 1} value ${JSON.stringify(v)}`, { file: name, row: i });
      return n;
    });
    files.push({ name, rawTimestamps, timestamps: rawTimestamps.map(parseNabTimestamp), rawValues, values, windows });
  }
  const unlabelled = [...present].filter((name) => !(name in labelled)).sort();
  return { dir, files, profiles, unlabelled };
}

/** 1 for a row inside any of the file's windows (limits inclusive), else 0: NAB's `label` column. */
export function windowLabels(file: Pick<NabDataFile, 'timestamps' | 'windows'>): number[] {
  return file.timestamps.map((ts) => (file.windows.some(([start, end]) => ts >= start && ts <= end) ? 1 : 0));
}

/** Where NAB keeps a detector's results for a data file: `<results>/<detector>/<category>/<detector>_<file>.csv`. */
export function resultsFilePath(resultsDir: string, detector: string, dataFile: string): string {
  const parts = dataFile.split('/');
  const base = parts.pop()!;
  return path.join(resultsDir, detector, ...parts, `${detector}_${base}`);
}

/** Writes a file's results as NAB's detectors do: `timestamp,value,anomaly_score,label`. */
export function writeResultsFile(resultsDir: string, detector: string, file: NabDataFile, anomalyScores: readonly number[]): string {
  const out = resultsFilePath(resultsDir, detector, file.name);
  mkdirSync(path.dirname(out), { recursive: true });
  const labels = windowLabels(file);
  const lines = ['timestamp,value,anomaly_score,label'];
  for (let i = 0; i < file.rawTimestamps.length; i++) {
    lines.push(`${file.rawTimestamps[i]},${file.rawValues[i]},${anomalyScores[i]},${labels[i]}`);
  }
  writeFileSync(out, `${lines.join('\n')}\n`);
  return out;
}

/**
 * Reads a detector's results folder for every file of the corpus, pairing the data file's own
 * timestamps with the results' anomaly_score column as NAB's scorer does.
 */
export function readDetectorResults(resultsDir: string, detector: string, corpus: NabCorpus): ScoredFile[] {
  return corpus.files.map((file) => {
    const csvFile = resultsFilePath(resultsDir, detector, file.name);
    const { header, rows } = readCsv(csvFile);
    const scoreAt = column(csvFile, header, 'anomaly_score');
    const anomalyScores = rows.map((r, i) => {
      const cell = (r[scoreAt] ?? '').trim();
      const n = Number(cell);
      if (cell === '' || !Number.isFinite(n)) {
        throw new NabError('NAB_SCORES', `${csvFile}: row ${i + 1} anomaly_score ${JSON.stringify(cell)}`, { file: csvFile, row: i });
      }
      return n;
    });
    if (anomalyScores.length !== file.timestamps.length) {
      throw new NabError('NAB_SCORES', `${csvFile} has ${anomalyScores.length} rows, ${file.name} has ${file.timestamps.length}`, {
        file: csvFile,
      });
    }
    return { name: file.name, timestamps: file.timestamps, anomalyScores, windows: file.windows };
  });
}

/** NAB's per-profile summary, `<detector>_<profile>_scores.csv`: one row per file, then Totals. */
export function writeProfileScores(
  resultsDir: string,
  detector: string,
  profile: string,
  result: { threshold: number; rawScore: number; files: readonly { file: string; score: number; tp: number; tn: number; fp: number; fn: number; total: number }[]; totals: { tp: number; tn: number; fp: number; fn: number; total: number } },
): string {
  const out = path.join(resultsDir, detector, `${detector}_${profile}_scores.csv`);
  mkdirSync(path.dirname(out), { recursive: true });
  const lines = ['Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count'];
  for (const f of result.files) {
    lines.push([detector, profile, f.file, result.threshold, f.score, f.tp, f.tn, f.fp, f.fn, f.total].join(','));
  }
  const t = result.totals;
  lines.push(['Totals', '', '', '', result.rawScore, t.tp, t.tn, t.fp, t.fn, t.total].join(','));
  writeFileSync(out, `${lines.join('\n')}\n`);
  return out;
}
