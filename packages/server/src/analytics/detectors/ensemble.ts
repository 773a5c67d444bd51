import type { DetectorFactory, DetectorInput, DetectorOptions, StreamingDetector } from './detector.ts';
import { DEFAULT_DUAL_VIGILANCE, DualVigilance, type DualVigilanceConfig } from './dual-vigilance.ts';
import { DEFAULT_RESONANCE, Resonance, type ResonanceConfig } from './resonance.ts';
import { DEFAULT_SHELLGUARD, shellguardFactory, type ShellguardConfig } from './shellguard.ts';

/**
 * `ensemble`: three detectors on the same samples — `shellguard` (contextual anomaly: a change of
 * sequence), `resonance` and `dual-vigilance` (two adaptive-resonance memories of a point's shapes
 * and levels: something not seen before) — scored as
 *
 *   max(shellguard / shellguardDivisor, 1 − (1 − resonance)(1 − dual-vigilance))
 *
 * The two resonance members are both calibrated per point (z / (z + zHalf) of their novelty against
 * the point's own history), so each score reads as the strength of one piece of evidence and the
 * noisy-or adds them: a sample both find new scores above either. shellguard's scores sit near 1
 * whenever it fires; the divisor puts them on the resonance scale so that one threshold serves all.
 * The members catch different anomalies (on the shared NAB files each finds windows the others
 * miss); the maximum keeps both kinds.
 *
 * Chosen by leave-one-category-out cross-validation on the shared NAB files (bench/nab/
 * cross-validate, method `ensemble`: each fold chooses the divisor from a small grid on five
 * categories; five folds of six chose 1.2), against the two-member rule that shipped before it (method
 * `ensemble-two`, with `dualVigilance: null`). Several ways of combining the same members were
 * tried on those files before this one was kept, so its held-out figure is somewhat flattering too.
 *
 * Cost: the sum of the members' (all bounded); memory: the sum of theirs. The contextual member is
 * capped at 10,000 contexts here (shellguard alone keeps CAD's 20,000): its cost at the cap grows
 * with the cap, and at 20,000 the three members together scored 17,917 samples/s per core on noise
 * (bench/detect, 2026-12-07), below the 20,000 goal; at 10,000, 28,092-29,139 — and the same NAB scores
 * on every profile (bench/nab/cap-sweep: 80.38 / 76.30 / 83.97 at both caps; NAB's files teach
 * fewer than 10,000 contexts but for pure noise). What NAB cannot show is months of minute means,
 * where every point reaches its cap: there the memory is half as long.
 */
export interface EnsembleConfig {
  shellguard: ShellguardConfig;
  resonance: ResonanceConfig;
  /** the second resonance member (calibrated: zHalf > 0); null: max(shellguard / divisor, resonance) */
  dualVigilance: DualVigilanceConfig | null;
  /** shellguard's score is divided by this before the maximum (≥ 1: the result stays in [0, 1]) */
  shellguardDivisor: number;
}

/** The ensemble's contextual member's context cap (see above). */
const ENSEMBLE_MAX_CONTEXTS = 10_000;

export const DEFAULT_ENSEMBLE: EnsembleConfig = {
  shellguard: { ...DEFAULT_SHELLGUARD, cad: { ...DEFAULT_SHELLGUARD.cad, maxContexts: ENSEMBLE_MAX_CONTEXTS } },
  resonance: DEFAULT_RESONANCE,
  dualVigilance: { ...DEFAULT_DUAL_VIGILANCE, zHalf: DEFAULT_RESONANCE.zHalf },
  shellguardDivisor: 1.2,
};

class Ensemble implements StreamingDetector {
  private readonly contextual: StreamingDetector;
  private readonly resonance: Resonance;
  private readonly dual: DualVigilance | null;
  private readonly divisor: number;
  constructor(options: DetectorOptions, config: EnsembleConfig) {
    if (!(config.shellguardDivisor >= 1)) throw new Error(`ensemble: shellguardDivisor must be at least 1, not ${config.shellguardDivisor}`);
    if (config.dualVigilance !== null && !(config.dualVigilance.zHalf > 0)) {
      throw new Error('ensemble: dualVigilance must be calibrated (zHalf > 0) to sit on resonance\'s scale');
    }
    this.contextual = shellguardFactory(config.shellguard).create(options);
    this.resonance = new Resonance(options, config.resonance);
    this.dual = config.dualVigilance === null ? null : new DualVigilance(options, config.dualVigilance);
    this.divisor = config.shellguardDivisor;
  }
  update(sample: DetectorInput): number {
    if (!Number.isFinite(sample.value)) return 0;
    // Every member sees every sample (each keeps its own state).
    const a = this.contextual.update(sample) / this.divisor;
    const r = this.resonance.update(sample);
    const b = this.dual === null ? r : 1 - (1 - r) * (1 - this.dual.update(sample));
    return a > b ? a : b;
  }
}

export function ensembleFactory(config: EnsembleConfig = DEFAULT_ENSEMBLE, name = 'ensemble'): DetectorFactory {
  return { name, create: (options) => new Ensemble(options, config) };
}

export const ensemble: DetectorFactory = ensembleFactory();
