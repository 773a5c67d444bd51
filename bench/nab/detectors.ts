import type { DetectorFactory } from '../../packages/server/src/analytics/detectors/detector.ts';
import { detectorFactories } from '../../packages/server/src/analytics/detectors/catalog.ts';
import { nullDetector } from './null-detector.ts';

/** Every detector `bench/nab` can run, by the name of its results folder (`--detector NAME`). */
export const nabDetectors: Readonly<Record<string, DetectorFactory>> = {
  null: nullDetector,
  ...detectorFactories,
};
