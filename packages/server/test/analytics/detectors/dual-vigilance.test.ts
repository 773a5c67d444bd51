import { describe, expect, it } from 'vitest';
import { DEFAULT_DUAL_VIGILANCE, DualVigilance, haar } from '../../../src/analytics/detectors/dual-vigilance.ts';
import { seededUniform as noise } from '../../../src/testing/seeded-uniform.ts';

const MINUTE = 60_000;

function feed(d: DualVigilance, values: readonly number[]): number[] {
  return values.map((value, i) => d.update({ ts: i * MINUTE, value }));
}

describe('dual-vigilance detector', () => {
  it('Haar transform: orthonormal, approximation first, details (second − first) / √2', () => {
    const x = Float64Array.from([1, 2, 3, 4]);
    haar(x, new Float64Array(4));
    expect(x[0]).toBeCloseTo(5, 12);
    expect(x[1]).toBeCloseTo(2, 12);
    expect(x[2]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(x[3]).toBeCloseTo(Math.SQRT1_2, 12);
    const rnd = noise(4);
    const y = Float64Array.from({ length: 8 }, () => rnd());
    const energy = y.reduce((a, v) => a + v * v, 0);
    haar(y, new Float64Array(8));
    expect(y.reduce((a, v) => a + v * v, 0)).toBeCloseTo(energy, 12);
  });

  it('keeps at most maxCategories boxes on pure noise, however long it runs', () => {
    const rnd = noise(3);
    const d = new DualVigilance({ inputMin: 0, inputMax: 1, probationaryPeriod: 100 }, { ...DEFAULT_DUAL_VIGILANCE, maxCategories: 32 });
    const counts: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      d.update({ ts: i * MINUTE, value: rnd() });
      if (i % 10_000 === 9_999) counts.push(d.boxCount);
    }
    expect(counts).toEqual([32, 32, 32, 32, 32]);
  });

  it('learns a repeating daily shape: quiet once it has seen it, and a break in it scores high, soon', () => {
    const period = 96;
    const rnd = noise(11);
    const values = Array.from({ length: 6000 }, (_, i) => 50 + 20 * Math.sin((2 * Math.PI * i) / period) + rnd());
    for (let i = 5000; i < 5000 + 2 * period; i++) values[i] = 85;
    const d = new DualVigilance({ inputMin: 29, inputMax: 86, probationaryPeriod: 750 });
    const scores = feed(d, values);
    const normal = scores.slice(3000, 5000);
    const shifted = scores.slice(5000, 5000 + period);
    expect(normal.filter((s) => s > 0).length).toBeLessThanOrEqual(2);
    expect(Math.max(...shifted)).toBeGreaterThan(0.5);
    expect(Math.max(...shifted)).toBeGreaterThan(2 * Math.max(...normal));
    // Within the first quarter period of the shift (downsampled blocks of 7 samples here).
    expect(shifted.findIndex((s) => s > 0.5)).toBeLessThan(period / 4);
  });

  it('reports one event once: a step change scores a few times at most, not on every sample after it', () => {
    const rnd = noise(5);
    const values = Array.from({ length: 4000 }, (_, i) => (i < 3000 ? 10 : 30) + rnd());
    const scores = feed(new DualVigilance({ inputMin: 9, inputMax: 31, probationaryPeriod: 600 }), values);
    const after = scores.slice(3000);
    expect(after.filter((s) => s > 0).length).toBeGreaterThanOrEqual(1);
    expect(after.filter((s) => s > 0).length).toBeLessThanOrEqual(3);
    expect(Math.max(...scores.slice(600, 3000))).toBe(0);
  });

  it('sets its vigilances from the probationary period, then keeps lower ≤ upper ≤ maxVigilance', () => {
    // (the replay's vigilance, which learns the probationary period, is ARTime's and not capped;
    // the first update, on the first sample after it, caps it)
    const rnd = noise(8);
    const d = new DualVigilance({ inputMin: -1, inputMax: 2, probationaryPeriod: 300 });
    const start = d.vigilance;
    expect(start).toEqual({ lower: DEFAULT_DUAL_VIGILANCE.initialVigilance, upper: DEFAULT_DUAL_VIGILANCE.initialVigilance });
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      d.update({ ts: i * MINUTE, value: (i % 2000 < 1000 ? Math.sin(i / 15) * 0.5 + 0.5 : 0.5) + 0.05 * rnd() });
      const { lower, upper } = d.vigilance;
      if (i <= 300) continue;
      expect(lower).toBeLessThanOrEqual(upper);
      expect(upper).toBeLessThanOrEqual(DEFAULT_DUAL_VIGILANCE.maxVigilance);
      seen.add(lower);
    }
    // It moved: the replay set it and the signal kept moving it.
    expect(seen.size).toBeGreaterThan(3);
  });

  it('calibrated (zHalf > 0): the same samples fire, scored z / (z + zHalf) below 1', () => {
    const rnd = noise(21);
    const values = Array.from({ length: 8000 }, (_, i) => 10 * Math.sin((2 * Math.PI * i) / 200) + rnd() + (i % 1500 === 1499 ? 8 : 0));
    const make = (zHalf: number): number[] =>
      feed(new DualVigilance({ inputMin: -11, inputMax: 20, probationaryPeriod: 750 }, { ...DEFAULT_DUAL_VIGILANCE, zHalf }), values);
    const raw = make(0);
    const a = make(3);
    const b = make(6);
    expect(raw.filter((s) => s > 0).length).toBeGreaterThan(2);
    for (let i = 0; i < values.length; i++) {
      expect(a[i]! > 0).toBe(b[i]! > 0);
      if (a[i]! > 0) expect(raw[i]!).toBeGreaterThan(0);
      if (a[i]! > 0) expect((3 * a[i]!) / (1 - a[i]!)).toBeCloseTo((6 * b[i]!) / (1 - b[i]!), 9);
      expect(a[i]!).toBeLessThan(1);
    }
  });

  it('scores 0 during its probationary period, and for non-finite samples', () => {
    const rnd = noise(9);
    const d = new DualVigilance({ inputMin: 0, inputMax: 1, probationaryPeriod: 500 });
    expect(Math.max(...feed(d, Array.from({ length: 500 }, () => rnd())))).toBe(0);
    expect(d.update({ ts: 0, value: Number.NaN })).toBe(0);
    expect(d.update({ ts: 0, value: Number.NEGATIVE_INFINITY })).toBe(0);
  });

  it('refuses a window that is not a power of two (the Haar transform needs one)', () => {
    expect(() => new DualVigilance({ inputMin: 0, inputMax: 1, probationaryPeriod: 500 }, { ...DEFAULT_DUAL_VIGILANCE, window: 6 })).toThrow(/power of two/);
  });

  it('copes with a declared range of zero width, not finite, or exceeded (live points may have any)', () => {
    for (const [inputMin, inputMax] of [[5, 5], [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], [Number.NaN, 1], [0, 1]] as const) {
      const d = new DualVigilance({ inputMin, inputMax, probationaryPeriod: 50 });
      const scores = feed(d, Array.from({ length: 500 }, (_, i) => (i === 400 ? 1e9 : i === 450 ? -1e9 : 5)));
      expect(scores.every((s) => Number.isFinite(s) && s >= 0 && s <= 1)).toBe(true);
    }
  });
});
