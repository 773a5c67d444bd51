/** A TypeScript port of the Numenta Anomaly Benchmark scorer (numenta/NAB nab/sweeper.py, scorer.py, optimizer.py, runner.py). */
export { NabError, type NabErrorCode } from './error.ts';
export { scaledSigmoid, MAX_TRUE_POSITIVE } from './sigmoid.ts';
export { probationaryPeriod, PROBATIONARY_FRACTION } from './probation.ts';
export { parseNabTimestamp } from './timestamp.ts';
export {
  sweepFile,
  scoresByThreshold,
  scoreAtThreshold,
  NOTHING_DETECTED_THRESHOLD,
  type AnomalyPoint,
  type CostMatrix,
  type ScoredFile,
  type ThresholdScore,
  type WindowLimits,
} from './sweeper.ts';
export {
  optimizeThreshold,
  scoreCorpus,
  scoreDetector,
  NULL_DETECTOR_SCORE,
  type FileScore,
  type ProfileResult,
  type Profiles,
} from './score-corpus.ts';
export {
  loadNabCorpus,
  readDetectorResults,
  resultsFilePath,
  windowLabels,
  writeProfileScores,
  writeResultsFile,
  type NabCorpus,
  type NabDataFile,
} from './corpus.ts';
