import { contextualAnomaly } from './contextual-anomaly.ts';
import type { DetectorFactory } from './detector.ts';
import { dualVigilance } from './dual-vigilance.ts';
import { ensemble } from './ensemble.ts';
import { resonance } from './resonance.ts';
import { shellguard } from './shellguard.ts';
import { windowedGaussian } from './windowed-gaussian.ts';

/** Every detector by its results-folder name, for the server's configuration and `bench/nab`. */
export const detectorFactories: Readonly<Record<string, DetectorFactory>> = {
  windowedGaussian,
  contextualAnomaly,
  shellguard,
  resonance,
  ensemble,
  'dual-vigilance': dualVigilance,
};
