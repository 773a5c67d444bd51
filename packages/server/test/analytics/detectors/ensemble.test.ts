import { describe, expect, it } from 'vitest';
import { dualVigilanceFactory } from '../../../src/analytics/detectors/dual-vigilance.ts';
import { DEFAULT_ENSEMBLE, ensembleFactory } from '../../../src/analytics/detectors/ensemble.ts';
import { resonanceFactory } from '../../../src/analytics/detectors/resonance.ts';
import { shellguardFactory } from '../../../src/analytics/detectors/shellguard.ts';
import type { DetectorFactory, DetectorOptions } from '../../../src/analytics/detectors/detector.ts';
import { seededUniform as noise } from '../../../src/testing/seeded-uniform.ts';

const MINUTE = 60_000;

function run(factory: DetectorFactory, values: number[], options: DetectorOptions): number[] {
  const detector = factory.create(options);
  return values.map((value, i) => detector.update({ ts: i * MINUTE, value }));
}

// A signal with a level shift and a changed rhythm, so that both members have something to score.
function signal(): number[] {
  const rnd = noise(3);
  return Array.from({ length: 4000 }, (_, i) => {
    const base = i < 2500 ? Math.sin(i / 15) * 5 : Math.sin(i / 6) * 5 + 4;
    return base + rnd();
  });
}

describe('ensemble detector', () => {
  const options = { inputMin: -8, inputMax: 12, probationaryPeriod: 600 };

  it('scores each sample as max(shellguard / divisor, noisy-or of the two resonance members), all on the same samples', () => {
    const values = signal();
    const d = DEFAULT_ENSEMBLE.shellguardDivisor;
    const a = run(shellguardFactory(DEFAULT_ENSEMBLE.shellguard), values, options);
    const r = run(resonanceFactory(DEFAULT_ENSEMBLE.resonance), values, options);
    const v = run(dualVigilanceFactory(DEFAULT_ENSEMBLE.dualVigilance!), values, options);
    const all = run(ensembleFactory(), values, options);
    const adaptive = r.map((x, i) => 1 - (1 - x) * (1 - v[i]!));
    expect(all).toEqual(a.map((x, i) => Math.max(x / d, adaptive[i]!)));
    // Not vacuous: each member scores somewhere the others do not, and shellguard leads somewhere.
    expect(a.some((x, i) => x / d > adaptive[i]!)).toBe(true);
    expect(r.some((x, i) => x > 0 && v[i] === 0)).toBe(true);
    expect(v.some((x, i) => x > 0 && r[i] === 0)).toBe(true);
  });

  it('without the dual-vigilance member is the two-member rule max(shellguard / divisor, resonance)', () => {
    const values = signal();
    const a = run(shellguardFactory(DEFAULT_ENSEMBLE.shellguard), values, options);
    const r = run(resonanceFactory(DEFAULT_ENSEMBLE.resonance), values, options);
    const two = run(ensembleFactory({ ...DEFAULT_ENSEMBLE, dualVigilance: null, shellguardDivisor: 1.6 }), values, options);
    expect(two).toEqual(a.map((x, i) => Math.max(x / 1.6, r[i]!)));
  });

  it('a non-finite sample scores 0 and leaves every member as it was', () => {
    const values = signal();
    const clean = run(ensembleFactory(), values, options);
    const withGaps = run(ensembleFactory(), [...values.slice(0, 3000), NaN, Infinity, -Infinity, ...values.slice(3000)], options);
    expect(withGaps.slice(3000, 3003)).toEqual([0, 0, 0]);
    expect([...withGaps.slice(0, 3000), ...withGaps.slice(3003)]).toEqual(clean);
  });

  it('refuses a divisor below 1 (the score would leave [0, 1])', () => {
    expect(() => ensembleFactory({ ...DEFAULT_ENSEMBLE, shellguardDivisor: 0.5 }).create(options)).toThrow(/shellguardDivisor must be at least 1/);
    expect(() => ensembleFactory({ ...DEFAULT_ENSEMBLE, shellguardDivisor: Number.NaN }).create(options)).toThrow(/at least 1/);
  });

  it('refuses an uncalibrated dual-vigilance member (its scores are not on resonance\'s scale)', () => {
    expect(() => ensembleFactory({ ...DEFAULT_ENSEMBLE, dualVigilance: { ...DEFAULT_ENSEMBLE.dualVigilance!, zHalf: 0 } }).create(options))
      .toThrow(/must be calibrated/);
  });
});
