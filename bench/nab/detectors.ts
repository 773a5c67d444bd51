import { detectorFactories, type DetectorFactory } from '@shellguard/server';
import { nullDetector } from './null-detector.ts';

/** Every detector `bench/nab` can run, by the name of its results folder (`--detector NAME`). */
export const nabDetectors: Readonly<Record<string, DetectorFactory>> = {
  null: nullDetector,
  ...detectorFactories,
};
