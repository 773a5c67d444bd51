/**
 * The multivariate detector (T² + Q on a learned normal state): a shift that moves several points
 * a little — each well inside its own normal spread — is caught, where each point alone is not;
 * the explanation names the points that moved; the model is fitted once from the declared-normal
 * period; bad input is skipped, not learned.
 */
import { describe, expect, it } from 'vitest';
import { MultivariateDetector, symmetricEigen } from '../../../src/analytics/detectors/multivariate.ts';

/** Seeded normal noise (Box-Muller over mulberry32). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const POINTS = ['a', 'b', 'c', 'd', 'e', 'f'];

/** Six points driven by one common load (as supply, return, valve, fan follow the heat) plus their own noise. */
function plant(seed: number) {
  const n = gaussian(seed);
  let load = 0;
  return (shift: number[] = [0, 0, 0, 0, 0, 0]): number[] => {
    load = 0.98 * load + 0.2 * n();
    return POINTS.map((_, i) => 10 * (i + 1) + (i % 2 === 0 ? 1 : -1) * 2 * load + 0.3 * n() + shift[i]!);
  };
}

function train(det: MultivariateDetector, next: () => number[], samples: number): number {
  let ts = 0;
  for (let i = 0; i < samples; i++) det.update(next(), ts++);
  return ts;
}

describe('MultivariateDetector', () => {
  it('decomposes a symmetric matrix into its eigenvalues and eigenvectors', () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([4, 1, 0, 1, 3, 0, 0, 0, 1]), 3);
    expect(values[2]).toBeCloseTo(1, 10);
    expect(values[0]! + values[1]!).toBeCloseTo(7, 10);
    expect(values[0]! * values[1]!).toBeCloseTo(11, 10);
    // A v = λ v for the first column.
    const v = [vectors[0]!, vectors[3]!, vectors[6]!];
    expect(4 * v[0]! + v[1]!).toBeCloseTo(values[0]! * v[0]!, 10);
    expect(v[0]! + 3 * v[1]!).toBeCloseTo(values[0]! * v[1]!, 10);
  });

  it('stays quiet on normal data after the fit', () => {
    const next = plant(1);
    const det = new MultivariateDetector(POINTS, { trainSamples: 5000, reservoir: 5000 });
    let ts = train(det, next, 5000);
    expect(det.trained).toBe(true);
    expect(det.components).toBeGreaterThanOrEqual(1);
    let alarms = 0;
    for (let i = 0; i < 3000; i++) if (det.update(next(), ts++).alarm) alarms++;
    expect(alarms / 3000).toBeLessThan(0.02);
  });

  it('sees a small shift of several points that breaks their relation, where no single point looks odd', () => {
    const next = plant(2);
    const det = new MultivariateDetector(POINTS, { trainSamples: 5000, reservoir: 5000, adaptSamples: 0 });
    let ts = train(det, next, 5000);
    // Each point's own spread (load swing ±2·σload plus noise) is about 2; move three of them by 0.6,
    // against the direction the load moves them: no point leaves its normal range.
    const shift = [0.6, 0.6, 0.6, 0, 0, 0];
    let alarmedAt: number | undefined;
    let maxZ = 0;
    for (let i = 0; i < 600; i++) {
      const r = det.update(next(shift), ts++);
      if (r.alarm && alarmedAt === undefined) alarmedAt = i;
      const x = det.explain()!;
      maxZ = Math.max(maxZ, ...x.moves.map((m) => Math.abs(m.z)));
    }
    expect(alarmedAt).toBeDefined();
    expect(maxZ).toBeLessThan(3);
    const x = det.explain()!;
    expect(x.statistic).toBe('Q');
    expect(x.ratio).toBeGreaterThan(1);
    expect(x.since).toBeGreaterThanOrEqual(5000);
    // The three moved points carry most of the statistic.
    const top = x.moves.slice(0, 3).map((m) => m.point).sort();
    expect(top).toEqual(['a', 'b', 'c']);
    expect(x.moves.slice(0, 3).reduce((s, m) => s + m.share, 0)).toBeGreaterThan(0.6);
    for (const m of x.moves) expect(m.normalStd).toBeGreaterThan(0);
  });

  it('says nothing while training, skips non-finite vectors, and learns a constant point without dividing by zero', () => {
    const n = gaussian(3);
    const det = new MultivariateDetector(['x', 'y', 'setpoint'], { trainSamples: 200, reservoir: 200 });
    for (let i = 0; i < 199; i++) expect(det.update([n(), n(), 18], i)).toMatchObject({ trained: false, ratio: 0, alarm: false });
    expect(det.explain()).toBeUndefined();
    det.update([Number.NaN, 1, 18], 199);
    expect(det.trained).toBe(false);
    det.update([n(), n(), 18], 200);
    expect(det.trained).toBe(true);
    const moved = det.update([0, 0, 19], 201);
    expect(Number.isFinite(moved.ratio)).toBe(true);
    expect(moved.ratio).toBeGreaterThan(1);
    expect(det.explain()!.moves[0]!.point).toBe('setpoint');
  });

  it('refuses configurations it cannot fit', () => {
    expect(() => new MultivariateDetector(['only'])).toThrow(/two points/);
    expect(() => new MultivariateDetector(['a', 'b'], { trainSamples: 3 })).toThrow(/trainSamples/);
    expect(() => new MultivariateDetector(['a', 'b'], { smoothing: 0 })).toThrow(/smoothing/);
  });
  it('sets its control limits limitMargin times the normal quantile, and refuses a margin below 1', () => {
    const fit = (limitMargin: number) => {
      const det = new MultivariateDetector(POINTS, { trainSamples: 2000, reservoir: 2000, limitMargin });
      train(det, plant(5), 2000);
      return det.limits;
    };
    const one = fit(1);
    const two = fit(2);
    expect(two.t2).toBeCloseTo(2 * one.t2, 9);
    expect(two.q).toBeCloseTo(2 * one.q, 9);
    expect(() => new MultivariateDetector(POINTS, { limitMargin: 0.9 })).toThrow(/limitMargin/);
  });
});
