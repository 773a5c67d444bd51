/**
 * Published NAB numbers to print beside ours (from ../shared/datasets/README.md).
 * `subset` holds NAB's official scorer on the 42-file subset stored in ../shared/datasets/nab, so it
 * is comparable only when `--data` is that folder; `scoreboard` is NAB's own on all 58 files.
 */
export interface PublishedScore {
  detector: string;
  standard: number;
  reward_low_FP_rate?: number;
  reward_low_FN_rate?: number;
}

export const PUBLISHED_ON_SUBSET: readonly PublishedScore[] = [
  { detector: 'ARTime', standard: 76.77, reward_low_FP_rate: 67.79, reward_low_FN_rate: 81.98 },
  { detector: 'numenta (HTM)', standard: 71.71, reward_low_FP_rate: 65.49, reward_low_FN_rate: 75.65 },
  { detector: 'windowedGaussian', standard: 36.25, reward_low_FP_rate: 18.14, reward_low_FN_rate: 44.0 },
  { detector: 'null', standard: 0, reward_low_FP_rate: 0, reward_low_FN_rate: 0 },
];

export const PUBLISHED_SCOREBOARD: readonly PublishedScore[] = [
  { detector: 'ARTime', standard: 74.9 },
  { detector: 'Numenta HTM', standard: 70.5 },
  { detector: 'CAD OSE', standard: 69.9 },
  { detector: 'KNN CAD', standard: 58.0 },
  { detector: 'Random Cut Forest', standard: 51.7 },
  { detector: 'Twitter ADVec', standard: 47.1 },
  { detector: 'windowed Gaussian', standard: 39.6 },
];
