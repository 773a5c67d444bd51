import { describe, expect, it } from 'vitest';
import { DEFAULT_RESONANCE, Resonance } from '../../../src/analytics/detectors/resonance.ts';
import { seededUniform as noise } from '../../../src/testing/seeded-uniform.ts';

const MINUTE = 60_000;

function feed(d: Resonance, values: readonly number[]): number[] {
  return values.map((value, i) => d.update({ ts: i * MINUTE, value }));
}

describe('resonance detector', () => {
  it('keeps at most maxCategories categories on pure noise, however long it runs', () => {
    const rnd = noise(3);
    const d = new Resonance({ inputMin: 0, inputMax: 1, probationaryPeriod: 100 }, { ...DEFAULT_RESONANCE, maxCategories: 32 });
    const counts: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      d.update({ ts: i * MINUTE, value: rnd() });
      if (i % 10_000 === 9_999) counts.push(d.categoryCount);
    }
    // Noise founds categories until the memory is full, then recycles the stalest ones.
    expect(counts).toEqual([32, 32, 32, 32, 32]);
  });

  it('learns a repeating daily shape: it scores low once it has seen it, and a break in it high', () => {
    const period = 96;
    const rnd = noise(11);
    const values = Array.from({ length: 6000 }, (_, i) => 50 + 20 * Math.sin((2 * Math.PI * i) / period) + rnd());
    // A level shift the daily shape never had: the signal sticks at its top for two periods.
    for (let i = 5000; i < 5000 + 2 * period; i++) values[i] = 85;
    const d = new Resonance({ inputMin: 29, inputMax: 86, probationaryPeriod: 750 }, DEFAULT_RESONANCE);
    const scores = feed(d, values);
    const normal = scores.slice(3000, 5000);
    const shifted = scores.slice(5000, 5000 + period);
    expect(Math.max(...normal)).toBeLessThan(0.25);
    expect(normal.filter((s) => s > 0).length).toBeLessThanOrEqual(3);
    expect(Math.max(...shifted)).toBeGreaterThan(0.5);
    // Reported within the first quarter period of the shift (downsampled blocks of 7 samples here).
    expect(shifted.findIndex((s) => s > 0.5)).toBeLessThan(period / 4);
  });

  it('calibrates its score per point: one threshold separates a break from routine novelty on a quiet and a noisy signal', () => {
    const period = 96;
    /** A daily shape with noise of amplitude `amp`, stuck at its top for two periods from sample 5000. */
    const signal = (amp: number): { values: number[]; min: number; max: number } => {
      const rnd = noise(11);
      const values = Array.from({ length: 6000 }, (_, i) => 50 + 20 * Math.sin((2 * Math.PI * i) / period) + amp * rnd());
      for (let i = 5000; i < 5000 + 2 * period; i++) values[i] = 85;
      return { values, min: Math.min(...values), max: Math.max(...values) };
    };
    const run = (amp: number, zHalf: number): { normal: number; shifted: number } => {
      const { values, min, max } = signal(amp);
      const scores = feed(new Resonance({ inputMin: min, inputMax: max, probationaryPeriod: 750 }, { ...DEFAULT_RESONANCE, zHalf }), values);
      return { normal: Math.max(...scores.slice(3000, 5000)), shifted: Math.max(...scores.slice(5000, 5000 + period)) };
    };
    const threshold = 0.5;
    for (const amp of [1, 5]) {
      const { normal, shifted } = run(amp, DEFAULT_RESONANCE.zHalf);
      expect(normal).toBeLessThan(threshold);
      expect(shifted).toBeGreaterThan(threshold);
    }
    // Uncalibrated (zHalf 0), the noisy signal's routine novelty already scores above that threshold:
    // its scale is the signal's, not the point's history's.
    const raw = run(5, 0);
    expect(raw.normal).toBeGreaterThan(threshold);
  });

  it('on pure noise every anomaly is routine for that point: calibrated scores stay moderate', () => {
    for (const seed of [1, 2, 3]) {
      const rnd = noise(seed);
      const values = Array.from({ length: 20_000 }, () => rnd());
      const calibrated = feed(new Resonance({ inputMin: 0, inputMax: 1, probationaryPeriod: 750 }, DEFAULT_RESONANCE), values);
      const raw = feed(new Resonance({ inputMin: 0, inputMax: 1, probationaryPeriod: 750 }, { ...DEFAULT_RESONANCE, zHalf: 0 }), values);
      // The same samples are anomalies either way (calibration changes the score, not the detection)...
      expect(calibrated.map((s) => s > 0)).toEqual(raw.map((s) => s > 0));
      expect(calibrated.filter((s) => s > 0).length).toBeGreaterThan(10);
      // ...but none is far beyond the noise's own typical novelty (z < 2 × zHalf), while raw scores run high.
      expect(Math.max(...calibrated)).toBeLessThan(2 / 3);
      expect(Math.max(...raw)).toBeGreaterThan(0.7);
    }
  });

  it('maps the z-score of the novelty to z / (z + zHalf)', () => {
    const rnd = noise(21);
    const values = Array.from({ length: 8000 }, (_, i) => 10 * Math.sin((2 * Math.PI * i) / 200) + rnd() + (i % 1500 === 1499 ? 8 : 0));
    const make = (zHalf: number): number[] =>
      feed(new Resonance({ inputMin: -11, inputMax: 20, probationaryPeriod: 750 }, { ...DEFAULT_RESONANCE, zHalf }), values);
    const a = make(3);
    const b = make(6);
    expect(a.filter((s) => s > 0).length).toBeGreaterThan(2);
    for (let i = 0; i < values.length; i++) {
      expect(a[i]! > 0).toBe(b[i]! > 0);
      if (a[i]! > 0) expect((3 * a[i]!) / (1 - a[i]!)).toBeCloseTo((6 * b[i]!) / (1 - b[i]!), 9);
      expect(a[i]!).toBeLessThan(1);
    }
  });

  it('reports one event once: a step change scores once, not on every sample after it', () => {
    const rnd = noise(5);
    const values = Array.from({ length: 4000 }, (_, i) => (i < 3000 ? 10 : 30) + rnd());
    const scores = feed(new Resonance({ inputMin: 9, inputMax: 31, probationaryPeriod: 600 }, DEFAULT_RESONANCE), values);
    const after = scores.slice(3000);
    expect(after.filter((s) => s > 0).length).toBeGreaterThanOrEqual(1);
    expect(after.filter((s) => s > 0).length).toBeLessThanOrEqual(3);
    expect(Math.max(...scores.slice(600, 3000))).toBe(0);
  });

  it('scores 0 during its probationary period, and for non-finite samples', () => {
    const rnd = noise(9);
    const d = new Resonance({ inputMin: 0, inputMax: 1, probationaryPeriod: 500 }, DEFAULT_RESONANCE);
    const probation = feed(d, Array.from({ length: 500 }, () => rnd()));
    expect(Math.max(...probation)).toBe(0);
    expect(d.update({ ts: 0, value: Number.NaN })).toBe(0);
    expect(d.update({ ts: 0, value: Number.POSITIVE_INFINITY })).toBe(0);
  });

  it('copes with a declared range of zero width or not finite (live points may have either)', () => {
    for (const [inputMin, inputMax] of [[5, 5], [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], [Number.NaN, 1]] as const) {
      const d = new Resonance({ inputMin, inputMax, probationaryPeriod: 50 }, DEFAULT_RESONANCE);
      const scores = feed(d, Array.from({ length: 500 }, (_, i) => (i === 400 ? 1e9 : 5)));
      expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    }
  });

  // Golden scores from the code before the category search skipped boxes by their newest-level term
  // (an optimisation that must not change a score): noise, then a noisy sine, in turn.
  it('gives the same scores as before the search was pruned, with and without downsampling', () => {
    const golden: Record<number, { count: number; sum: number; first: Array<[number, number]> }> = {
      100: { count: 110, sum: 42.415016222629, first: [[2020, 0.25837896400252225], [2095, 0.2627045929805245], [2171, 0.26652665433727163], [2248, 0.2705252755777952]] },
      750: { count: 2, sum: 0.4531891219490758, first: [[4059, 0.08039342146860218], [13075, 0.3727957004804736]] },
    };
    for (const [probationaryPeriod, want] of Object.entries(golden)) {
      const rnd = noise(5);
      const d = new Resonance({ inputMin: -1, inputMax: 2, probationaryPeriod: Number(probationaryPeriod) });
      const values = Array.from({ length: 20_000 }, (_, i) => (i % 4000 < 2000 ? rnd() : Math.sin(i / 12) * 0.4 + 0.5 + rnd() * 0.05));
      const fired = feed(d, values).flatMap((s, i): Array<[number, number]> => (s > 0 ? [[i, s]] : []));
      expect(fired.length).toBe(want.count);
      expect(fired.reduce((a, [, s]) => a + s, 0)).toBe(want.sum);
      expect(fired.slice(0, 4)).toEqual(want.first);
    }
  });
});
