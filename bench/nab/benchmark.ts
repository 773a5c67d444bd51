import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DetectorFactory } from '@shellguard/server';
import { PUBLISHED_ON_SUBSET, PUBLISHED_SCOREBOARD, type PublishedScore } from './published.ts';
import {
  probationaryPeriod,
  writeProfileScores,
  writeResultsFile,
  type NabCorpus,
  type ProfileResult,
  type ScoredFile,
} from './scorer/index.ts';

/** Where a run is: file `fileIndex` of `fileCount` (from 0), `row` rows of `rows` streamed. */
export interface RunProgress {
  fileIndex: number;
  fileCount: number;
  file: string;
  row: number;
  rows: number;
}

export interface RunDetectorOptions {
  corpus: NabCorpus;
  factory: DetectorFactory;
  /** Results root: files go to `<resultsDir>/<factory.name>/<category>/<factory.name>_<file>.csv`. */
  resultsDir: string;
  onProgress?: (progress: RunProgress) => void;
}

const PROGRESS_EVERY_ROWS = 2000;

/**
 * Runs a detector over every labelled file as NAB's runner does: a fresh detector per file, told
 * the file's min and max value and its probationary period, fed every row in order. Writes each
 * file's results in NAB's format and returns the anomaly scores, ready to score.
 */
export function runDetector({ corpus, factory, resultsDir, onProgress }: RunDetectorOptions): ScoredFile[] {
  return corpus.files.map((file, fileIndex) => {
    const rows = file.values.length;
    let inputMin = Infinity;
    let inputMax = -Infinity;
    for (const v of file.values) {
      if (v < inputMin) inputMin = v;
      if (v > inputMax) inputMax = v;
    }
    const detector = factory.create({ inputMin, inputMax, probationaryPeriod: probationaryPeriod(rows) });
    const anomalyScores = new Array<number>(rows);
    for (let i = 0; i < rows; i++) {
      if (onProgress !== undefined && i % PROGRESS_EVERY_ROWS === 0) {
        onProgress({ fileIndex, fileCount: corpus.files.length, file: file.name, row: i, rows });
      }
      anomalyScores[i] = detector.update({ ts: file.timestamps[i]!, value: file.values[i]! });
    }
    onProgress?.({ fileIndex, fileCount: corpus.files.length, file: file.name, row: rows, rows });
    writeResultsFile(resultsDir, factory.name, file, anomalyScores);
    return { name: file.name, timestamps: file.timestamps, anomalyScores, windows: file.windows };
  });
}

/**
 * Records a detector's scores as NAB does: one `<detector>_<profile>_scores.csv` per profile and the
 * normalised scores in `<resultsDir>/final_results.json` (merged with other detectors' already there).
 */
export function recordScores(resultsDir: string, detector: string, scored: readonly ProfileResult[]): void {
  for (const result of scored) writeProfileScores(resultsDir, detector, result.profile, result);
  const finalPath = path.join(resultsDir, 'final_results.json');
  const final: Record<string, Record<string, number>> = existsSync(finalPath)
    ? (JSON.parse(readFileSync(finalPath, 'utf8')) as Record<string, Record<string, number>>)
    : {};
  final[detector] = Object.fromEntries(scored.map((r) => [r.profile, r.score]));
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(finalPath, `${JSON.stringify(final, null, 4)}\n`);
}

const PROFILE_COLUMNS = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;

function cell(value: number | undefined): string {
  return value === undefined ? '' : value.toFixed(2);
}

/**
 * A markdown table of our detector's normalised scores beside NAB's published ones. `onSubset`
 * says the data folder is the stored 42-file subset, the only one the subset numbers apply to.
 */
export function formatScoreTable(detector: string, scored: readonly ProfileResult[], onSubset: boolean): string {
  const byProfile = new Map(scored.map((r) => [r.profile, r]));
  const lines = [
    `| detector | ${PROFILE_COLUMNS.join(' | ')} | thresholds |`,
    `|---|${PROFILE_COLUMNS.map(() => '---:').join('|')}|---|`,
    `| **${detector}** (this run) | ${PROFILE_COLUMNS.map((p) => `**${cell(byProfile.get(p)?.score)}**`).join(' | ')} | ${PROFILE_COLUMNS.map((p) => byProfile.get(p)?.threshold ?? '').join(' / ')} |`,
  ];
  const published = (rows: readonly PublishedScore[], where: string): void => {
    for (const row of rows) {
      lines.push(`| ${row.detector} (${where}) | ${PROFILE_COLUMNS.map((p) => cell(row[p])).join(' | ')} | |`);
    }
  };
  if (onSubset) published(PUBLISHED_ON_SUBSET, 'NAB scorer, these 42 files');
  published(PUBLISHED_SCOREBOARD, 'NAB scoreboard, all 58 files');
  const extra = scored.filter((r) => !(PROFILE_COLUMNS as readonly string[]).includes(r.profile));
  for (const r of extra) lines.push('', `${r.profile}: ${cell(r.score)} (threshold ${r.threshold})`);
  return lines.join('\n');
}
