import { PROBATIONARY_FRACTION } from './probation.ts';
import {
  scoreAtThreshold,
  scoresByThreshold,
  sweepFile,
  type AnomalyPoint,
  type CostMatrix,
  type ScoredFile,
  type ThresholdScore,
} from './sweeper.ts';

/** The scoring profiles of config/profiles.json by name, e.g. `standard`. */
export type Profiles = Readonly<Record<string, { CostMatrix: CostMatrix }>>;

/** A file's score at the corpus threshold (a row of NAB's `<detector>_<profile>_scores.csv`). */
export interface FileScore extends ThresholdScore {
  file: string;
}

/** A detector's result under one profile. */
export interface ProfileResult {
  profile: string;
  /** The threshold that maximises the raw score over the whole corpus. */
  threshold: number;
  /** Σ of the files' scores at that threshold. */
  rawScore: number;
  /** Raw score of NAB's null detector (constant 0.5) under the same rules: never detecting. */
  nullScore: number;
  /** Raw score of detecting every window on its first row and nothing else: windows × tpWeight. */
  perfectScore: number;
  /** 100 · (raw − null) / (perfect − null): 0 for the null detector, 100 for the perfect one. */
  score: number;
  files: FileScore[];
  totals: Omit<ThresholdScore, 'threshold' | 'score'>;
}

/**
 * The threshold that maximises a profile's total score over all files together (nab/optimizer.py
 * `optimizeThreshold`): one threshold for the whole corpus, never per file. Among equal scores the
 * highest threshold wins, as NAB's stable sort by score keeps the sweep's order.
 */
export function optimizeThreshold(
  files: readonly ScoredFile[],
  costs: CostMatrix,
  probationaryFraction: number = PROBATIONARY_FRACTION,
): { threshold: number; score: number } {
  const points: AnomalyPoint[] = [];
  for (const file of files) {
    for (const p of sweepFile(file, costs, probationaryFraction)) points.push(p);
  }
  let best: ThresholdScore | undefined;
  for (const row of scoresByThreshold(points, costs)) {
    if (best === undefined || row.score > best.score) best = row;
  }
  return { threshold: best!.threshold, score: best!.score };
}

/** Every file's score at one threshold, and their sum (nab/scorer.py `scoreCorpus`). */
export function scoreCorpus(
  files: readonly ScoredFile[],
  costs: CostMatrix,
  threshold: number,
  probationaryFraction: number = PROBATIONARY_FRACTION,
): { score: number; files: FileScore[] } {
  const scored = files.map((file) => ({
    file: file.name,
    ...scoreAtThreshold(scoresByThreshold(sweepFile(file, costs, probationaryFraction), costs), threshold),
  }));
  let score = 0;
  for (const f of scored) score += f.score;
  return { score, files: scored };
}

/** NAB's null detector: the same score for every row, so no threshold tells rows apart. */
export const NULL_DETECTOR_SCORE = 0.5;

/**
 * Scores a detector's output on a corpus under every profile as NAB's runner does: optimise the
 * threshold, score every file at it, then normalise between the null detector (run through the same
 * optimise-and-score steps) and a perfect detector (runner.py `normalize`).
 */
export function scoreDetector(
  files: readonly ScoredFile[],
  profiles: Profiles,
  probationaryFraction: number = PROBATIONARY_FRACTION,
): ProfileResult[] {
  const nullFiles = files.map((f) => ({ ...f, anomalyScores: f.anomalyScores.map(() => NULL_DETECTOR_SCORE) }));
  let windowCount = 0;
  for (const f of files) windowCount += f.windows.length;

  return Object.entries(profiles).map(([profile, { CostMatrix: costs }]) => {
    const { threshold } = optimizeThreshold(files, costs, probationaryFraction);
    const corpus = scoreCorpus(files, costs, threshold, probationaryFraction);
    const nullThreshold = optimizeThreshold(nullFiles, costs, probationaryFraction).threshold;
    const nullScore = scoreCorpus(nullFiles, costs, nullThreshold, probationaryFraction).score;
    const perfectScore = windowCount * costs.tpWeight;
    const totals = { tp: 0, tn: 0, fp: 0, fn: 0, total: 0 };
    for (const f of corpus.files) {
      totals.tp += f.tp;
      totals.tn += f.tn;
      totals.fp += f.fp;
      totals.fn += f.fn;
      totals.total += f.total;
    }
    return {
      profile,
      threshold,
      rawScore: corpus.score,
      nullScore,
      perfectScore,
      score: (100 * (corpus.score - nullScore)) / (perfectScore - nullScore),
      files: corpus.files,
      totals,
    };
  });
}
