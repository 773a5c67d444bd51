import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  loadNabCorpus,
  MAX_TRUE_POSITIVE,
  NOTHING_DETECTED_THRESHOLD,
  optimizeThreshold,
  probationaryPeriod,
  readDetectorResults,
  scaledSigmoid,
  scoreAtThreshold,
  scoreCorpus,
  scoreDetector,
  scoresByThreshold,
  sweepFile,
  type CostMatrix,
  type ScoredFile,
  type ThresholdScore,
} from '../../bench/nab/scorer/index.ts';

const STANDARD: CostMatrix = { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 };
const LOW_FN: CostMatrix = { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 };
const MINUTE = 60_000;

/** Independent closed form of the scaled sigmoid: 2σ(−5x) − 1 = −tanh(2.5x). */
const reward = (position: number): number => -Math.tanh(2.5 * position);
const truePositive = (position: number): number => reward(position) / reward(-1);

/**
 * A file of `rows` rows one minute apart; `detections` maps row → anomaly score (others score 0);
 * windows are given as [first row, last row].
 */
function file(rows: number, detections: Record<number, number>, windows: [number, number][], name = 'cat/f.csv'): ScoredFile {
  const timestamps = Array.from({ length: rows }, (_, i) => i * MINUTE);
  return {
    name,
    timestamps,
    anomalyScores: timestamps.map((_, i) => detections[i] ?? 0),
    windows: windows.map(([a, b]) => [a * MINUTE, b * MINUTE] as const),
  };
}

/** The file's score when every row scoring ≥ threshold is a detection. */
function scoreAt(f: ScoredFile, threshold: number, costs: CostMatrix = STANDARD): ThresholdScore {
  return scoreAtThreshold(scoresByThreshold(sweepFile(f, costs), costs), threshold);
}

// 20 rows: probationary period floor(0.15 · 20) = 3 rows; a window on rows 10..14 (width 5).
const ROWS = 20;
const WINDOW: [number, number] = [10, 14];

describe('scaledSigmoid', () => {
  it('gives NAB’s documented rewards at the window start, middle, end and one window past', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(MAX_TRUE_POSITIVE).toBe(scaledSigmoid(-1));
  });

  it('is exactly −1 beyond three window lengths', () => {
    expect(scaledSigmoid(3)).toBeGreaterThan(-1);
    expect(scaledSigmoid(3.0001)).toBe(-1);
  });
});

describe('probationaryPeriod', () => {
  it('is 15% of the rows, rounded down, capped at 750', () => {
    expect(probationaryPeriod(20)).toBe(3);
    expect(probationaryPeriod(19)).toBe(2);
    expect(probationaryPeriod(4032)).toBe(604);
    expect(probationaryPeriod(5000)).toBe(750);
    expect(probationaryPeriod(22695)).toBe(750);
  });
});

describe('NAB scoring of one file', () => {
  it('rewards a detection on the first row of a window with exactly tpWeight', () => {
    const s = scoreAt(file(ROWS, { 10: 1 }, [WINDOW]), 1);
    expect(s.score).toBe(1);
    expect(s).toMatchObject({ tp: 1, fp: 0, fn: 4, tn: 12, total: 17 });
  });

  it('rewards a detection in the middle of a window less: sigmoid of −(14 − 12 + 1)/5', () => {
    const s = scoreAt(file(ROWS, { 12: 1 }, [WINDOW]), 1);
    expect(s.score).toBeCloseTo(truePositive(-0.6), 12);
    expect(s.score).toBeCloseTo(0.917429, 6);
  });

  it('rewards a detection on the last row of a window little: sigmoid of −1/5', () => {
    const s = scoreAt(file(ROWS, { 14: 1 }, [WINDOW]), 1);
    expect(s.score).toBeCloseTo(truePositive(-0.2), 12);
    expect(s.score).toBeCloseTo(0.468387, 6);
  });

  it('counts only the first detection in a window', () => {
    // Rows 12 and 14 both detected: the window earns row 12's reward once; row 14 adds nothing.
    const both = scoreAt(file(ROWS, { 12: 1, 14: 1 }, [WINDOW]), 1);
    expect(both.score).toBeCloseTo(truePositive(-0.6), 12);
    expect(both.tp).toBe(2);
    // Order of discovery in the sweep does not matter: a later row found first is replaced by an earlier one.
    const sweep = scoresByThreshold(sweepFile(file(ROWS, { 14: 0.9, 11: 0.5 }, [WINDOW]), STANDARD), STANDARD);
    expect(scoreAtThreshold(sweep, 0.9).score).toBeCloseTo(truePositive(-0.2), 12);
    expect(scoreAtThreshold(sweep, 0.5).score).toBeCloseTo(truePositive(-0.8), 12);
  });

  it('charges a missed window fnWeight', () => {
    expect(scoreAt(file(ROWS, {}, [WINDOW]), NOTHING_DETECTED_THRESHOLD).score).toBe(-1);
    expect(scoreAt(file(ROWS, {}, [WINDOW]), NOTHING_DETECTED_THRESHOLD, LOW_FN).score).toBe(-2);
  });

  it('charges a false positive before any window fpWeight in full', () => {
    const s = scoreAt(file(ROWS, { 5: 1 }, [WINDOW]), 1);
    expect(s.score).toBeCloseTo(-1 - 0.11, 12);
    expect(s).toMatchObject({ tp: 0, fp: 1, fn: 5, tn: 11 });
  });

  it('charges a false positive just after a window by its distance: |14 − 16| / (5 − 1)', () => {
    const s = scoreAt(file(ROWS, { 16: 1 }, [WINDOW]), 1);
    expect(s.score).toBeCloseTo(-1 + 0.11 * reward(0.5), 12);
    expect(0.11 * reward(0.5)).toBeCloseTo(-0.0933112, 6);
  });

  it('charges a false positive more than three window widths after a window fpWeight in full', () => {
    // Window rows 10..11 (width 2, so w − 1 = 1): row 15 is 4 past it.
    const s = scoreAt(file(ROWS, { 10: 1, 15: 1 }, [[10, 11]]), 1);
    expect(s.score).toBeCloseTo(1 - 0.11, 12);
    const near = scoreAt(file(ROWS, { 10: 1, 13: 1 }, [[10, 11]]), 1);
    expect(near.score).toBeCloseTo(1 + 0.11 * reward(2), 12);
  });

  it('measures a false positive from the latest window that ended, not the next one', () => {
    // Windows 6..7 and 14..15; row 9 is after the first (2 past, width 2) and before the second.
    const s = scoreAt(file(ROWS, { 6: 1, 9: 1, 14: 1 }, [[6, 7], [14, 15]]), 1);
    expect(s.score).toBeCloseTo(2 + 0.11 * reward(2), 12);
  });

  it('ignores every detection in the probationary period', () => {
    // Rows 0..2 are probationary for a 20-row file; a detection there is neither a FP nor a threshold candidate.
    const sweep = scoresByThreshold(sweepFile(file(ROWS, { 1: 1 }, []), STANDARD), STANDARD);
    expect(sweep.map((r) => r.threshold)).toEqual([NOTHING_DETECTED_THRESHOLD, 0]);
    expect(scoreAtThreshold(sweep, 1)).toMatchObject({ score: 0, tp: 0, fp: 0, tn: 17, fn: 0 });
    // Row 3 is the first scored row.
    expect(scoreAt(file(ROWS, { 3: 1 }, []), 1).score).toBeCloseTo(-0.11, 12);
  });

  it('scores a file with no windows by its false positives alone', () => {
    expect(scoreAt(file(ROWS, {}, []), NOTHING_DETECTED_THRESHOLD).score).toBe(0);
    const s = scoreAt(file(ROWS, { 4: 0.7, 8: 0.9, 19: 0.8 }, []), 0.7);
    expect(s.score).toBeCloseTo(-0.33, 12);
    expect(s).toMatchObject({ tp: 0, fp: 3, tn: 14, fn: 0 });
  });

  it('sweeps 1.1 then every distinct scored anomaly score, highest first, each counting scores ≥ it', () => {
    const sweep = scoresByThreshold(sweepFile(file(ROWS, { 10: 0.8, 11: 0.6, 12: 0.6, 5: 0.3 }, [WINDOW]), STANDARD), STANDARD);
    expect(sweep.map((r) => r.threshold)).toEqual([1.1, 0.8, 0.6, 0.3, 0]);
    expect(sweep.map((r) => r.tp)).toEqual([0, 1, 3, 3, 5]);
    expect(sweep[3]!.score).toBeCloseTo(1 - 0.11, 12);
  });

  it('applies a threshold between candidates as the lowest candidate above it', () => {
    const f = file(ROWS, { 10: 0.8, 5: 0.3 }, [WINDOW]);
    expect(scoreAt(f, 0.5).score).toBe(1);
    expect(scoreAt(f, 0.9).score).toBe(-1);
    expect(scoreAt(f, 2).score).toBe(-1);
  });
});

describe('optimizeThreshold', () => {
  it('picks one threshold for all files together, not the best per file', () => {
    // File a alone is best at 0.9 (1 − 0.11); file b needs 0.5. Together 0.5 wins: 0.89 + 1.
    const a = file(ROWS, { 5: 0.95, 10: 0.9 }, [WINDOW], 'cat/a.csv');
    const b = file(ROWS, { 10: 0.5 }, [WINDOW], 'cat/b.csv');
    const best = optimizeThreshold([a, b], STANDARD);
    expect(best.threshold).toBe(0.5);
    expect(best.score).toBeCloseTo(1.89, 12);
    expect(scoreCorpus([a, b], STANDARD, best.threshold).score).toBeCloseTo(1.89, 12);
    // At 0.7, a is scored at its 0.9 candidate and b detects nothing.
    const at07 = scoreCorpus([a, b], STANDARD, 0.7);
    expect(at07.files.map((f) => f.score)).toEqual([expect.closeTo(0.89, 12), -1]);
  });

  it('breaks ties in favour of the highest threshold', () => {
    // 0.8 detects the window start; 0.6 adds a later row of the same window: the same score.
    const f = file(ROWS, { 10: 0.8, 12: 0.6 }, [WINDOW]);
    expect(optimizeThreshold([f], STANDARD)).toEqual({ threshold: 0.8, score: 1 });
  });

  it('keeps "detect nothing" when every detection costs more than it earns', () => {
    const f = file(ROWS, { 4: 0.9, 5: 0.9, 16: 0.2 }, []);
    expect(optimizeThreshold([f], STANDARD)).toEqual({ threshold: NOTHING_DETECTED_THRESHOLD, score: 0 });
  });
});

describe('scoreDetector', () => {
  const profiles = { standard: { CostMatrix: STANDARD }, reward_low_FN_rate: { CostMatrix: LOW_FN } };
  // Long enough (probation 30 rows) that flagging every row costs far more than it earns.
  const LONG = 200;
  const windows: [number, number][] = [[60, 69], [140, 149]];

  it('normalises a detector that flags every window on its first row, and nothing else, to 100', () => {
    const perfect = scoreDetector([file(LONG, { 60: 1, 140: 1 }, windows), file(LONG, {}, [], 'cat/quiet.csv')], profiles);
    for (const r of perfect) expect(r.score).toBeCloseTo(100, 10);
    expect(perfect.map((r) => [r.profile, r.nullScore, r.perfectScore])).toEqual([
      ['standard', -2, 2],
      ['reward_low_FN_rate', -4, 2],
    ]);
  });

  it('normalises a detector that never detects to 0', () => {
    for (const r of scoreDetector([file(LONG, {}, windows)], profiles)) expect(r.score).toBe(0);
  });

  it('normalises 100 · (raw − null) / (perfect − null): one window found in its middle, one missed', () => {
    // Row 65 of window 60..69: position −(69 − 65 + 1)/10 = −0.5.
    const [standard, lowFn] = scoreDetector([file(LONG, { 65: 1 }, windows)], profiles);
    expect(standard!.rawScore).toBeCloseTo(truePositive(-0.5) - 1, 12);
    expect(standard!.score).toBeCloseTo((100 * (truePositive(-0.5) - 1 + 2)) / (2 + 2), 10);
    expect(lowFn!.rawScore).toBeCloseTo(truePositive(-0.5) - 2, 12);
    expect(lowFn!.score).toBeCloseTo((100 * (truePositive(-0.5) - 2 + 4)) / (2 + 4), 10);
  });

  it('takes the null baseline from the null detector optimised like any other, as NAB does', () => {
    // On a short file flagging every row beats flagging none, so the null detector's best is not −fnWeight · windows.
    const [standard] = scoreDetector([file(ROWS, { 6: 1, 14: 1 }, [[6, 7], [14, 15]])], { standard: { CostMatrix: STANDARD } });
    expect(standard!.nullScore).toBeGreaterThan(-2);
    expect(standard!.score).toBeCloseTo(100, 10);
  });
});

// ---------------------------------------------------------------------------------------------
// NAB's own stored results: the published numbers must come out of our scorer.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NAB_DIR = path.resolve(ROOT, '../shared/datasets/nab');
const haveNab = existsSync(path.join(NAB_DIR, 'results'));
if (!haveNab) console.warn(`test/nab: ${NAB_DIR} is absent (expected ../shared beside the repository); skipping the published-score checks`);

describe.skipIf(!haveNab)(`NAB published results (${NAB_DIR})`, () => {
  const published: Record<string, Record<string, number>> = {
    numenta: { standard: 71.71, reward_low_FP_rate: 65.49, reward_low_FN_rate: 75.65 },
    windowedGaussian: { standard: 36.25, reward_low_FP_rate: 18.14, reward_low_FN_rate: 44.0 },
  };

  for (const [detector, expected] of Object.entries(published)) {
    it(`reproduces ${detector}: ${Object.values(expected).join(' / ')}`, () => {
      const corpus = loadNabCorpus(NAB_DIR);
      expect(corpus.files).toHaveLength(42);
      const scored = scoreDetector(readDetectorResults(path.join(NAB_DIR, 'results'), detector, corpus), corpus.profiles);
      const byProfile = Object.fromEntries(scored.map((r) => [r.profile, r.score]));
      for (const [profile, score] of Object.entries(expected)) {
        expect(byProfile[profile], `${detector} ${profile}`).toBeCloseTo(score, 2);
      }
    });
  }

  it('scores the null detector 0 on every profile', () => {
    const corpus = loadNabCorpus(NAB_DIR);
    const files = corpus.files.map((f) => ({ ...f, anomalyScores: f.values.map(() => 0.5) }));
    for (const r of scoreDetector(files, corpus.profiles)) expect(r.score).toBe(0);
  });
});
