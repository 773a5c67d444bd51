/**
 * What the per-point detector costs in memory, so that live analytics can hold all its points in a
 * budget (issue 14: bounded memory per point; an authenticated guardian sending noise on thousands
 * of points fills every detector to its cap).
 *
 * The ensemble's memory per point is mostly its contextual member's context memory, which grows
 * with what a signal teaches it until `maxContexts`; on noise it reaches the cap within a few
 * thousand samples. Its two resonance members add a fixed ~75 KB (dual-vigilance's 256 boxes, most
 * of it). Measured by bench/detect (`--detectors ensemble --max-contexts N`, 2026-12-07: the
 * ensemble after 3,000 noise samples, up to 200 detectors): 246,423 bytes at 2,000 contexts, 421,342
 * at 5,000, 619,555 at the shipped 10,000, 1,055,148 at 20,000. Between the measured caps the
 * estimate is linear; below them it follows the lower slope.
 */
import { DEFAULT_ENSEMBLE, ensembleFactory } from './ensemble.ts';
import type { DetectorFactory } from './detector.ts';

const MEASURED: ReadonlyArray<readonly [contexts: number, bytes: number]> = [[2_000, 246_423], [5_000, 421_342], [10_000, 619_555], [20_000, 1_055_148]];

/** The fewest contexts live analytics will give a point: below it the detector loses too much (bench/nab/cap-sweep). */
export const MIN_CONTEXTS_PER_POINT = 1_000;

/** The ensemble's estimated bytes per point at its memory cap with `maxContexts` contexts. */
export function ensembleBytesAtCap(maxContexts: number): number {
  // The measured segment it falls in (the first below the first cap, the last above the last).
  let i = 1;
  while (i < MEASURED.length - 1 && maxContexts > MEASURED[i]![0]) i++;
  const [c0, b0] = MEASURED[i - 1]!;
  const [c1, b1] = MEASURED[i]!;
  return b0 + ((maxContexts - c0) * (b1 - b0)) / (c1 - c0);
}

/**
 * The ensemble with the most contexts (at most the shipped cap, in steps of 500) whose estimated
 * memory fits `bytesPerPoint`. Throws when not even `MIN_CONTEXTS_PER_POINT` fit, saying what would.
 */
export function ensembleWithin(bytesPerPoint: number): { factory: DetectorFactory; maxContexts: number; bytesPerPoint: number } {
  const shipped = DEFAULT_ENSEMBLE.shellguard.cad.maxContexts;
  let maxContexts = 0;
  for (let c = shipped; c >= MIN_CONTEXTS_PER_POINT; c -= 500) {
    if (ensembleBytesAtCap(c) <= bytesPerPoint) { maxContexts = c; break; }
  }
  if (maxContexts === 0) {
    const need = Math.ceil(ensembleBytesAtCap(MIN_CONTEXTS_PER_POINT));
    throw new RangeError(`the detector memory budget gives each point ${Math.floor(bytesPerPoint).toLocaleString('en')} bytes; `
      + `the detector needs at least ${need.toLocaleString('en')} (${MIN_CONTEXTS_PER_POINT.toLocaleString('en')} contexts): raise the budget or lower the number of points`);
  }
  const shellguard = { ...DEFAULT_ENSEMBLE.shellguard, cad: { ...DEFAULT_ENSEMBLE.shellguard.cad, maxContexts } };
  const factory = maxContexts === shipped ? ensembleFactory() : ensembleFactory({ ...DEFAULT_ENSEMBLE, shellguard }, 'ensemble');
  return { factory, maxContexts, bytesPerPoint: ensembleBytesAtCap(maxContexts) };
}
