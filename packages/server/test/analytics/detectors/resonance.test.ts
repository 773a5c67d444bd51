import { describe, expect, it } from 'vitest';
import { DEFAULT_RESONANCE, Resonance } from '../../../src/analytics/detectors/resonance.ts';

const MINUTE = 60_000;

/** A deterministic pseudo-random sequence (mulberry32). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
});
