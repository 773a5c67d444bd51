import { NabError } from './error.ts';
import { probationaryPeriod, PROBATIONARY_FRACTION } from './probation.ts';
import { MAX_TRUE_POSITIVE, scaledSigmoid } from './sigmoid.ts';

/** A profile's weights (config/profiles.json `CostMatrix`); NAB never uses tnWeight. */
export interface CostMatrix {
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
}

/** An anomaly window as [first timestamp, last timestamp], both inclusive, in epoch ms. */
export type WindowLimits = readonly [start: number, end: number];

/** One file's detector output, ready to score. */
export interface ScoredFile {
  /** Path relative to data/, e.g. `realKnownCause/nyc_taxi.csv`; names the file's windows. */
  name: string;
  /** Row timestamps in epoch ms, in file order. */
  timestamps: readonly number[];
  /** The detector's anomaly score of each row. */
  anomalyScores: readonly number[];
  /** The file's windows in the order combined_windows.json lists them (NAB sorts them by start). */
  windows: readonly WindowLimits[];
}

/** A row with what it would earn if it were a detection (nab/sweeper.py `AnomalyPoint`). */
export interface AnomalyPoint {
  anomalyScore: number;
  /** Weighted reward of a detection on this row: a true positive's inside a window, a false positive's outside. */
  sweepScore: number;
  /** `<file>|<window start>` inside a window, null outside; NAB names rows of the probationary period 'probationary'. */
  window: string | null;
  /** In the probationary period: never scored. */
  probationary: boolean;
}

/** The score a set of rows earns when every row with anomalyScore ≥ threshold is a detection. */
export interface ThresholdScore {
  threshold: number;
  score: number;
  tp: number;
  tn: number;
  fp: number;
  fn: number;
  total: number;
}

/**
 * Threshold NAB starts its sweep with: above every anomaly score, so nothing is detected and every
 * window is a false negative.
 */
export const NOTHING_DETECTED_THRESHOLD = 1.1;

/**
 * Gives every row of a file the reward it would earn as a detection (nab/sweeper.py `calcSweepScore`):
 *
 * - inside a window of width w whose last row is r, row i earns
 *   tpWeight · scaledSigmoid(−(r − i + 1) / w) / scaledSigmoid(−1): exactly tpWeight on the first row,
 *   falling towards 0 at the end;
 * - after a window, row i earns fpWeight · scaledSigmoid(|r − i| / (w − 1)) with r and w those of the
 *   latest window that ended: a false positive just after a window costs little, far after it fpWeight;
 * - before any window a false positive costs fpWeight in full;
 * - rows of the probationary period are marked and later ignored.
 *
 * A window is entered only on a row whose timestamp equals the start of the next unvisited window,
 * as NAB does; a window end that is not a row of the file is refused.
 */
export function sweepFile(
  file: ScoredFile,
  costs: CostMatrix,
  probationaryFraction: number = PROBATIONARY_FRACTION,
): AnomalyPoint[] {
  const { timestamps, anomalyScores } = file;
  if (timestamps.length !== anomalyScores.length) {
    throw new NabError(
      'NAB_SCORES',
      `${file.name}: ${anomalyScores.length} anomaly scores for ${timestamps.length} rows`,
      { file: file.name, rows: timestamps.length, scores: anomalyScores.length },
    );
  }
  const firstRowAt = new Map<number, number>();
  timestamps.forEach((ts, i) => {
    if (!firstRowAt.has(ts)) firstRowAt.set(ts, i);
  });
  const rowOf = (ts: number): number => {
    const row = firstRowAt.get(ts);
    if (row === undefined) {
      throw new NabError('NAB_WINDOW', `${file.name}: window limit ${new Date(ts).toISOString()} is not a row of the file`, {
        file: file.name,
        timestamp: ts,
      });
    }
    return row;
  };

  const probation = probationaryPeriod(timestamps.length, probationaryFraction);
  const points: AnomalyPoint[] = [];
  let nextWindow = 0;
  let current: { name: string; end: number; rightIndex: number; width: number } | null = null;
  let previous: { rightIndex: number; width: number } | null = null;

  for (let i = 0; i < timestamps.length; i++) {
    const ts = timestamps[i]!;
    const anomalyScore = anomalyScores[i]!;
    if (!Number.isFinite(anomalyScore)) {
      throw new NabError('NAB_SCORES', `${file.name}: row ${i} has anomaly score ${anomalyScore}`, {
        file: file.name,
        row: i,
      });
    }
    const pending = file.windows[nextWindow];
    if (pending !== undefined && ts === pending[0]) {
      nextWindow++;
      const rightIndex = rowOf(pending[1]);
      current = {
        name: `${file.name}|${pending[0]}`,
        end: pending[1],
        rightIndex,
        width: rightIndex - rowOf(pending[0]) + 1,
      };
    }

    let sweepScore: number;
    if (current !== null) {
      const position = -(current.rightIndex - i + 1) / current.width;
      sweepScore = (scaledSigmoid(position) * costs.tpWeight) / MAX_TRUE_POSITIVE;
    } else if (previous === null) {
      sweepScore = -1.0 * costs.fpWeight;
    } else {
      // A one-row window divides by zero here; NAB's Python raises, we score it as far past (−fpWeight).
      const position = Math.abs(previous.rightIndex - i) / (previous.width - 1);
      sweepScore = scaledSigmoid(position) * costs.fpWeight;
    }

    const probationary = i < probation;
    points.push({ anomalyScore, sweepScore, window: probationary ? null : (current?.name ?? null), probationary });

    if (current !== null && ts === current.end) {
      previous = { rightIndex: i, width: current.width };
      current = null;
    }
  }
  return points;
}

/**
 * The score of every candidate threshold over a set of rows, from one file or a whole corpus
 * (nab/sweeper.py `calcScoreByThreshold`).
 *
 * Candidates are 1.1 (nothing detected) followed by every distinct anomaly score of a scored
 * (non-probationary) row, highest first; the entry for threshold t counts every row with
 * anomalyScore ≥ t as a detection. Each window contributes −fnWeight until detected, then the best
 * (i.e. earliest) reward among its detected rows: only the first detection in a window counts.
 * False positives add up.
 */
export function scoresByThreshold(points: readonly AnomalyPoint[], costs: CostMatrix): ThresholdScore[] {
  // Array.prototype.sort is stable, like Python's sorted(reverse=True): equal scores keep input order.
  const scorable = points.filter((p) => !p.probationary).sort((a, b) => b.anomalyScore - a.anomalyScore);

  // Parts summed in NAB's order (false positives, then windows by first appearance) for the same floats.
  const windowParts = new Map<string, number>();
  for (const p of scorable) {
    if (p.window !== null) windowParts.set(p.window, -costs.fnWeight);
  }
  let falsePositives = 0;
  const total = (): number => {
    let sum = falsePositives;
    for (const part of windowParts.values()) sum += part;
    return sum;
  };

  let tn = 0;
  let fn = 0;
  for (const p of scorable) {
    if (p.window === null) tn++;
    else fn++;
  }
  let tp = 0;
  let fp = 0;

  const rows: ThresholdScore[] = [];
  let threshold = NOTHING_DETECTED_THRESHOLD;
  for (const p of scorable) {
    if (p.anomalyScore !== threshold) {
      rows.push({ threshold, score: total(), tp, tn, fp, fn, total: tp + tn + fp + fn });
      threshold = p.anomalyScore;
    }
    if (p.window === null) {
      fp++;
      tn--;
      falsePositives += p.sweepScore;
    } else {
      tp++;
      fn--;
      windowParts.set(p.window, Math.max(windowParts.get(p.window)!, p.sweepScore));
    }
  }
  rows.push({ threshold, score: total(), tp, tn, fp, fn, total: tp + tn + fp + fn });
  return rows;
}

/**
 * The entry of a sweep (highest threshold first) that applies at `threshold` (nab/sweeper.py
 * `scoreDataSet`): the entry for exactly that threshold, or else the one for the lowest candidate
 * above it. A threshold below every candidate means every row is detected: the last entry (where
 * NAB's Python would fail on a missing row).
 */
export function scoreAtThreshold(sweep: readonly ThresholdScore[], threshold: number): ThresholdScore {
  let previous: ThresholdScore | undefined;
  for (const row of sweep) {
    if (row.threshold === threshold) return row;
    if (row.threshold < threshold) return previous ?? row;
    previous = row;
  }
  const last = sweep[sweep.length - 1];
  if (last === undefined) throw new NabError('NAB_SCORES', 'empty sweep', {});
  return last;
}
