import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectorFactory, DetectorOptions } from '@shellguard/server';
import { formatScoreTable, recordScores, runDetector } from '../../bench/nab/benchmark.ts';
import { nullDetector } from '../../bench/nab/null-detector.ts';
import {
  loadNabCorpus,
  NabError,
  readDetectorResults,
  resultsFilePath,
  scoreDetector,
  windowLabels,
} from '../../bench/nab/scorer/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROFILES = {
  standard: { CostMatrix: { tpWeight: 1.0, fnWeight: 1.0, fpWeight: 0.11, tnWeight: 1.0 } },
  reward_low_FP_rate: { CostMatrix: { tpWeight: 1.0, fnWeight: 1.0, fpWeight: 0.22, tnWeight: 1.0 } },
  reward_low_FN_rate: { CostMatrix: { tpWeight: 1.0, fnWeight: 2.0, fpWeight: 0.11, tnWeight: 1.0 } },
};

const stamp = (i: number): string => new Date(Date.UTC(2015, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);

/** A small NAB-layout folder: two labelled files (one without windows) and one unlabelled. */
function writeCorpus(dir: string): void {
  mkdirSync(path.join(dir, 'data', 'machines'), { recursive: true });
  mkdirSync(path.join(dir, 'labels'), { recursive: true });
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  const rows = (n: number, value: (i: number) => number): string =>
    ['timestamp,value', ...Array.from({ length: n }, (_, i) => `${stamp(i)},${value(i)}`)].join('\n') + '\n';
  writeFileSync(path.join(dir, 'data', 'machines', 'pump.csv'), rows(200, (i) => (i >= 120 && i < 130 ? 90 : 20 + (i % 3))));
  writeFileSync(path.join(dir, 'data', 'machines', 'fan.csv'), rows(100, (i) => 5 + (i % 2)));
  writeFileSync(path.join(dir, 'data', 'machines', 'spare.csv'), rows(10, () => 1));
  writeFileSync(
    path.join(dir, 'labels', 'combined_windows.json'),
    JSON.stringify({
      'machines/pump.csv': [[`${stamp(115)}.000000`, `${stamp(134)}.000000`]],
      'machines/fan.csv': [],
    }),
  );
  writeFileSync(path.join(dir, 'config', 'profiles.json'), JSON.stringify(PROFILES));
}

/** Flags the rows it is told to, and remembers what the harness told it about each file. */
function oracle(flagged: ReadonlySet<number>, seen: DetectorOptions[]): DetectorFactory {
  return {
    name: 'oracle',
    create(options) {
      seen.push(options);
      return { update: ({ ts }) => (flagged.has(ts) ? 1 : 0) };
    },
  };
}

describe('bench/nab harness', () => {
  let dir: string;
  let out: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-nab-'));
    out = path.join(dir, 'results');
    writeCorpus(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the labelled files of a NAB-layout folder and lists the unlabelled ones', () => {
    const corpus = loadNabCorpus(dir);
    expect(corpus.files.map((f) => f.name)).toEqual(['machines/fan.csv', 'machines/pump.csv']);
    expect(corpus.unlabelled).toEqual(['machines/spare.csv']);
    expect(Object.keys(corpus.profiles)).toEqual(['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']);
  });

  it('gives each file a fresh detector with its min, max and probationary period', () => {
    const corpus = loadNabCorpus(dir);
    const seen: DetectorOptions[] = [];
    runDetector({ corpus, factory: oracle(new Set(), seen), resultsDir: out });
    expect(seen).toEqual([
      { inputMin: 5, inputMax: 6, probationaryPeriod: 15 },
      { inputMin: 20, inputMax: 90, probationaryPeriod: 30 },
    ]);
  });

  it('writes NAB results files: <detector>/<category>/<detector>_<file>.csv with label 1 inside windows', () => {
    const corpus = loadNabCorpus(dir);
    const pump = corpus.files.find((f) => f.name === 'machines/pump.csv')!;
    runDetector({ corpus, factory: oracle(new Set([pump.timestamps[115]!]), []), resultsDir: out });
    const written = resultsFilePath(out, 'oracle', 'machines/pump.csv');
    expect(written).toBe(path.join(out, 'oracle', 'machines', 'oracle_pump.csv'));
    const lines = readFileSync(written, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score,label');
    expect(lines).toHaveLength(201);
    expect(lines[1]).toBe(`${stamp(0)},20,0,0`);
    expect(lines[116]).toBe(`${stamp(115)},21,1,1`);
    expect(lines[135]).toBe(`${stamp(134)},22,0,1`);
    expect(lines[136]).toBe(`${stamp(135)},20,0,0`);
    expect(windowLabels(pump).reduce((a, b) => a + b, 0)).toBe(20);
    expect(existsSync(resultsFilePath(out, 'oracle', 'machines/spare.csv'))).toBe(false);
  });

  it('scores a detector that flags each window on its first row 100, and the null detector 0', () => {
    const corpus = loadNabCorpus(dir);
    const pump = corpus.files.find((f) => f.name === 'machines/pump.csv')!;
    const perfect = runDetector({ corpus, factory: oracle(new Set([pump.timestamps[115]!]), []), resultsDir: out });
    for (const r of scoreDetector(perfect, corpus.profiles)) expect(r.score).toBeCloseTo(100, 10);
    const none = runDetector({ corpus, factory: nullDetector, resultsDir: out });
    for (const r of scoreDetector(none, corpus.profiles)) expect(r.score).toBe(0);
  });

  it('reads back the results it wrote to the same scores', () => {
    const corpus = loadNabCorpus(dir);
    const pump = corpus.files.find((f) => f.name === 'machines/pump.csv')!;
    const ran = runDetector({ corpus, factory: oracle(new Set([pump.timestamps[120]!, pump.timestamps[40]!]), []), resultsDir: out });
    expect(readDetectorResults(out, 'oracle', corpus)).toEqual(ran);
  });

  it('records per-profile score files and final_results.json as NAB does', () => {
    const corpus = loadNabCorpus(dir);
    const scored = scoreDetector(runDetector({ corpus, factory: nullDetector, resultsDir: out }), corpus.profiles);
    recordScores(out, 'null', scored);
    const standard = readFileSync(path.join(out, 'null', 'null_standard_scores.csv'), 'utf8').trimEnd().split('\n');
    expect(standard[0]).toBe('Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count');
    expect(standard.at(-1)).toBe('Totals,,,,-1,0,235,0,20,255');
    expect(JSON.parse(readFileSync(path.join(out, 'final_results.json'), 'utf8'))).toMatchObject({
      null: { standard: 0, reward_low_FP_rate: 0, reward_low_FN_rate: 0 },
    });
    expect(formatScoreTable('null', scored, false)).toContain('| **null** (this run) | **0.00** | **0.00** | **0.00** |');
  });

  it('refuses a folder without config/profiles.json', () => {
    const broken = mkdtempSync(path.join(tmpdir(), 'sg-nab-broken-'));
    try {
      writeCorpus(broken);
      rmSync(path.join(broken, 'config'), { recursive: true });
      expect(() => loadNabCorpus(broken)).toThrow(expect.objectContaining({ code: 'NAB_LAYOUT' }));
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('refuses a window whose end is not a row of its file', () => {
    const corpus = loadNabCorpus(dir);
    const pump = corpus.files.find((f) => f.name === 'machines/pump.csv')!;
    const bad = { ...pump, anomalyScores: pump.values.map(() => 0), windows: [[pump.timestamps[115]!, pump.timestamps[134]! + 1] as const] };
    expect(() => scoreDetector([bad], corpus.profiles)).toThrow(NabError);
    expect(() => scoreDetector([bad], corpus.profiles)).toThrow(expect.objectContaining({ code: 'NAB_WINDOW' }));
  });

  it('refuses results whose row count differs from the data file', () => {
    const corpus = loadNabCorpus(dir);
    runDetector({ corpus, factory: nullDetector, resultsDir: out });
    const fan = resultsFilePath(out, 'null', 'machines/fan.csv');
    writeFileSync(fan, readFileSync(fan, 'utf8').trimEnd().split('\n').slice(0, -1).join('\n') + '\n');
    expect(() => readDetectorResults(out, 'null', corpus)).toThrow(expect.objectContaining({ code: 'NAB_SCORES' }));
  });

  it('runs from the command line on any NAB-layout folder and prints the score table', () => {
    const cliOut = path.join(dir, 'cli-results');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/nab/run.ts', '--data', dir, '--detector', 'null', '--out', cliOut],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(run.stderr).toContain('[2/2] machines/pump.csv 100%');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('| **null** (this run) | **0.00** | **0.00** | **0.00** |');
    expect(run.stdout).toContain('not labelled, skipped: machines/spare.csv');
    expect(run.stdout).not.toContain('these 42 files');
    expect(existsSync(path.join(cliOut, 'null', 'machines', 'null_fan.csv'))).toBe(true);

    const before = readdirSync(path.join(cliOut, 'null')).sort();
    const scoreOnly = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/nab/run.ts', '--data', dir, '--detector', 'null', '--out', cliOut, '--score-only'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(scoreOnly.status).toBe(0);
    expect(scoreOnly.stdout).toContain('(scored existing results)');
    expect(readdirSync(path.join(cliOut, 'null')).sort()).toEqual(before);
  });

  it('refuses an unknown detector by name, listing the known ones', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/nab/run.ts', '--data', dir, '--detector', 'nope'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/unknown detector "nope"; known: null/);
  });
});

const NAB_DIR = path.resolve(ROOT, '../shared/datasets/nab');
const haveNab = existsSync(path.join(NAB_DIR, 'data'));
if (!haveNab) console.warn(`test/nab: ${NAB_DIR} is absent (expected ../shared beside the repository); skipping the full-corpus run`);

describe.skipIf(!haveNab)('bench/nab on the stored NAB subset', () => {
  it('runs the null detector over all 42 files to 0 / 0 / 0 with NAB-format results', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'sg-nab-null-'));
    try {
      const corpus = loadNabCorpus(NAB_DIR);
      const results = runDetector({ corpus, factory: nullDetector, resultsDir: out });
      expect(results).toHaveLength(42);
      for (const r of scoreDetector(results, corpus.profiles)) expect(r.score).toBe(0);
      const written = readFileSync(resultsFilePath(out, 'null', 'realKnownCause/machine_temperature_system_failure.csv'), 'utf8');
      const stored = readFileSync(
        resultsFilePath(path.join(NAB_DIR, 'results'), 'numenta', 'realKnownCause/machine_temperature_system_failure.csv'),
        'utf8',
      );
      // Same rows and the same label column as NAB's own results for the file.
      const labels = (csv: string): string[] => csv.trimEnd().split('\n').map((line) => line.split(',').at(-1)!);
      expect(labels(written)).toEqual(labels(stored));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
