import { ContextualAnomaly, DEFAULT_CONTEXTUAL_ANOMALY, RestPeriodGate, type ContextualAnomalyConfig } from './contextual-anomaly.ts';
import type { DetectorFactory, DetectorInput, DetectorOptions, StreamingDetector } from './detector.ts';
import { erfc } from './windowed-gaussian.ts';

/**
 * `shellguard`: our contextual detector (live analytics runs it inside `ensemble`). The Contextual
 * Anomaly Detector's raw score, with a small weight of Gaussian surprise (how many standard
 * deviations from an exponentially weighted mean) mixed in before CAD's rest-period gate. The Gaussian part breaks ties among CAD's coarse score
 * levels in favour of samples that are also far from normal. One configuration for every signal.
 */
export interface ShellguardConfig {
  cad: ContextualAnomalyConfig;
  /** samples in the running window of the Gaussian surprise signal */
  gaussianWindow: number;
  /** weight of the Gaussian surprise added to the CAD score */
  gaussianWeight: number;
}

export const DEFAULT_SHELLGUARD: ShellguardConfig = {
  cad: DEFAULT_CONTEXTUAL_ANOMALY,
  gaussianWindow: 1000,
  gaussianWeight: 0.05,
};

/** Exponentially weighted mean and variance: O(1) memory Gaussian reference. */
class EwmGaussian {
  private mean = 0;
  private variance = 0;
  private n = 0;
  constructor(private readonly window: number) {}
  /** Φ(|z|) mapped to [0, 1]: 0 at the mean, → 1 far in the tails. */
  surprise(x: number): number {
    let s = 0;
    if (this.n > 1) {
      const std = Math.sqrt(this.variance) || 1e-6;
      const z = Math.abs(x - this.mean) / std;
      s = 1 - erfc(z / Math.SQRT2);
    }
    this.n++;
    const alpha = Math.max(1 / this.n, 1 / this.window);
    const d = x - this.mean;
    this.mean += alpha * d;
    this.variance = (1 - alpha) * (this.variance + alpha * d * d);
    return s;
  }
}

class Shellguard implements StreamingDetector {
  private readonly cad: ContextualAnomaly;
  private readonly gate: RestPeriodGate;
  private readonly gaussian: EwmGaussian;
  constructor(options: DetectorOptions, private readonly config: ShellguardConfig) {
    this.cad = new ContextualAnomaly(options, config.cad);
    this.gate = new RestPeriodGate(options.probationaryPeriod / config.cad.restPeriodDivisor, config.cad.baseThreshold);
    this.gaussian = new EwmGaussian(config.gaussianWindow);
  }
  update(sample: DetectorInput): number {
    if (!Number.isFinite(sample.value)) return 0;
    const raw = this.cad.rawScore(sample);
    const g = this.gaussian.surprise(sample.value);
    const fused = Math.min(1, raw * (1 - this.config.gaussianWeight) + this.config.gaussianWeight * g);
    return this.gate.pass(fused);
  }
}

export function shellguardFactory(config: ShellguardConfig = DEFAULT_SHELLGUARD): DetectorFactory {
  return { name: 'shellguard', create: (options) => new Shellguard(options, config) };
}

export const shellguard: DetectorFactory = shellguardFactory();
