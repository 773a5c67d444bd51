import { describe, expect, it } from 'vitest';
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

  it('scores each sample as max(shellguard / divisor, resonance), the members run on the same samples', () => {
    const values = signal();
    const a = run(shellguardFactory(DEFAULT_ENSEMBLE.shellguard), values, options);
    const b = run(resonanceFactory(DEFAULT_ENSEMBLE.resonance), values, options);
    const both = run(ensembleFactory(), values, options);
    const expected = a.map((x, i) => Math.max(x / DEFAULT_ENSEMBLE.shellguardDivisor, b[i]!));
    expect(both).toEqual(expected);
    // Not vacuous: each member leads somewhere on this signal.
    expect(a.some((x, i) => x / DEFAULT_ENSEMBLE.shellguardDivisor > b[i]!)).toBe(true);
    expect(b.some((x, i) => x > a[i]! / DEFAULT_ENSEMBLE.shellguardDivisor)).toBe(true);
  });

  it('a non-finite sample scores 0 and leaves both members as they were', () => {
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
});
