import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectorFactories } from '../../../src/analytics/detectors/catalog.ts';
import { ContextualAnomaly, DEFAULT_CONTEXTUAL_ANOMALY } from '../../../src/analytics/detectors/contextual-anomaly.ts';
import type { DetectorFactory, DetectorOptions } from '../../../src/analytics/detectors/detector.ts';
import { erfc } from '../../../src/analytics/detectors/windowed-gaussian.ts';
import { seededUniform as noise } from '../../../src/testing/seeded-uniform.ts';

const MINUTE = 60_000;

function run(factory: DetectorFactory, values: number[], options: DetectorOptions): number[] {
  const detector = factory.create(options);
  return values.map((value, i) => detector.update({ ts: i * MINUTE, value }));
}

// One contract suite run against every detector (STYLE: one suite per interface).
describe.each(Object.entries(detectorFactories))('detector %s', (_name, factory) => {
  it('scores every finite sample in [0, 1], whatever the input and the declared range', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 0, max: 200 }),
        (values, inputMin, span, probationaryPeriod) => {
          const scores = run(factory, values, { inputMin, inputMax: inputMin + span, probationaryPeriod });
          return scores.every((s) => Number.isFinite(s) && s >= 0 && s <= 1);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gives the same scores for the same input (deterministic)', () => {
    const rnd = noise(7);
    const values = Array.from({ length: 2000 }, (_, i) => Math.sin(i / 20) * 10 + rnd() * 3);
    const options = { inputMin: -15, inputMax: 15, probationaryPeriod: 300 };
    expect(run(factory, values, options)).toEqual(run(factory, values, options));
  });

  it('scores a spike after a long flat signal above anything it scored on the flat part', () => {
    const values = Array.from({ length: 1500 }, (_, i) => (i === 1200 ? 100 : 10));
    const scores = run(factory, values, { inputMin: 10, inputMax: 100, probationaryPeriod: 225 });
    const flatMax = Math.max(...scores.slice(225, 1200));
    // At the spike, or within a few samples of it: a downsampling detector reports at the end of
    // its block (resonance: blocks of 2 here, and its feature window sees the block's extreme).
    const spike = Math.max(...scores.slice(1200, 1208));
    expect(spike).toBeGreaterThan(0.5);
    expect(spike).toBeGreaterThan(flatMax);
  });

  it('scores a flat signal low once probation is over', () => {
    const values = Array.from({ length: 2000 }, () => 42);
    const scores = run(factory, values, { inputMin: 40, inputMax: 50, probationaryPeriod: 300 });
    expect(Math.max(...scores.slice(300))).toBeLessThan(0.1);
  });
});

describe('ContextualAnomaly', () => {
  it('stops learning contexts at the cap on noise, and keeps its semi-contexts bounded by it', () => {
    // Small and deterministic: a low cap that noise reaches within a few thousand samples, checked
    // after every sample. The million-sample run (time and memory) is bench/detectors/context-cap.ts.
    const maxContexts = 40;
    const detector = new ContextualAnomaly(
      { inputMin: 0, inputMax: 1, probationaryPeriod: 150 },
      { ...DEFAULT_CONTEXTUAL_ANOMALY, maxContexts },
    );
    const rnd = noise(11);
    let peak = 0;
    let peakSemi = 0;
    for (let i = 0; i < 6_000; i++) {
      detector.update({ ts: i * MINUTE, value: rnd() });
      peak = Math.max(peak, detector.contextCount);
      peakSemi = Math.max(peakSemi, detector.semiContextCount);
    }
    // The cap was reached (so it was what held the tables), and never passed.
    expect(peak).toBe(maxContexts);
    expect(detector.contextCount).toBe(maxContexts);
    // Semi-contexts are created only with a context: at most two per context.
    expect(peakSemi).toBeLessThanOrEqual(2 * maxContexts);
  });

  it('learns a repeating pattern and stops flagging it', () => {
    const pattern = [0, 2, 5, 7, 5, 2];
    const values = Array.from({ length: 3000 }, (_, i) => pattern[i % pattern.length]!);
    const scores = run({ name: 'cad', create: (o) => new ContextualAnomaly(o) }, values, {
      inputMin: 0,
      inputMax: 7,
      probationaryPeriod: 450,
    });
    expect(Math.max(...scores.slice(1000))).toBe(0);
  });
});

describe('erfc', () => {
  it('matches reference values to 1e-12', () => {
    // Reference values of erfc from standard tables (Abramowitz & Stegun, high-precision).
    const cases: Array<[number, number]> = [
      [0, 1],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [2, 0.004677734981047266],
      [3, 2.209049699858544e-5],
      [-1, 1.8427007929497148],
    ];
    for (const [x, expected] of cases) expect(Math.abs(erfc(x) - expected)).toBeLessThan(1e-12);
  });
});
