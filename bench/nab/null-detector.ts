import type { DetectorFactory } from '@shellguard/server';
import { NULL_DETECTOR_SCORE } from './scorer/index.ts';

/**
 * NAB's null detector (nab/detectors/null): the same score, 0.5, for every sample. It never tells
 * an anomaly from normal data, so after threshold optimisation it detects nothing and scores 0 on
 * every profile: the floor of NAB's normalisation, and a check of the harness.
 */
export const nullDetector: DetectorFactory = {
  name: 'null',
  create: () => ({ update: () => NULL_DETECTOR_SCORE }),
};
