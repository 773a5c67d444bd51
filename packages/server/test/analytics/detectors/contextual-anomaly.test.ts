import { describe, expect, it } from 'vitest';
import { ContextualAnomaly, DEFAULT_CONTEXTUAL_ANOMALY } from '../../../src/analytics/detectors/contextual-anomaly.ts';
import { shellguardFactory } from '../../../src/analytics/detectors/shellguard.ts';
import { seededUniform as noise } from '../../../src/testing/seeded-uniform.ts';

const MINUTE = 60_000;

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

// Golden values: computed with the straightforward implementation (string-keyed maps, every
// crossed semi-context scanned every step) before the context memory was rewritten around typed
// arrays. The rewrite must give the same scores bit for bit (the NAB figures depend on it), so
// these are exact (toBe), not approximate.
describe('ContextualAnomaly scores (bit-identical to the reference implementation)', () => {
  const rnd = noise(11);
  const values = Array.from({ length: 800 }, (_, i) => Math.sin(i / 12) * 10 + rnd() * 2 + (i === 500 ? 30 : 0) + (i >= 650 ? 8 : 0));
  const options = { inputMin: -12, inputMax: 40, probationaryPeriod: 120 };
  const picked = [1, 2, 10, 50, 121, 200, 333, 499, 500, 501, 502, 649, 650, 651, 700, 799];

  it('gives the reference raw CAD scores on a noisy sine with a spike and a level shift', () => {
    const cad = new ContextualAnomaly(options);
    const raw = values.map((value, i) => cad.rawScore({ ts: i * MINUTE, value }));
    expect(picked.map((i) => raw[i])).toEqual([
      1, 1, 0, 0, 0.34933993399339935, 0.24744897959183673, 0, 0.1875, 1, 1, 0.3125, 0.257085020242915,
      0.22359154929577463, 0.22340425531914893, 0, 0.2824006562158221,
    ]);
    expect(sum(raw)).toBe(116.89856979194029);
    expect(cad.contextCount).toBe(1143);
    expect(cad.semiContextCount).toBe(450);
  });

  it('gives the reference shellguard scores on the same signal', () => {
    const detector = shellguardFactory().create(options);
    const scores = values.map((value, i) => detector.update({ ts: i * MINUTE, value }));
    expect(picked.map((i) => scores[i])).toEqual([
      0, 0, 0, 0, 0.370102997709438, 0.2763365180135813, 0.02374713980404643, 0.2131882839373954, 0.9999475136734508, 0,
      0, 0.2732515685006091, 0.21689127591998705, 0.21272292391051717, 0, 0.2693436894623396,
    ]);
    expect(sum(scores)).toBe(109.11520068297322);
  });
});

describe('ContextualAnomaly at its context cap', () => {
  it('stops learning at the cap, keeps scoring with what it has, exactly as the reference did', () => {
    const rnd = noise(3);
    const maxContexts = 300;
    const cad = new ContextualAnomaly(
      { inputMin: 0, inputMax: 1, probationaryPeriod: 300 },
      { ...DEFAULT_CONTEXTUAL_ANOMALY, maxContexts },
    );
    const scores: number[] = [];
    let capAt = -1;
    let semiAtCap = -1;
    for (let i = 0; i < 3000; i++) {
      scores.push(cad.rawScore({ ts: i * MINUTE, value: rnd() }));
      if (capAt < 0 && cad.contextCount >= maxContexts) {
        capAt = i;
        semiAtCap = cad.semiContextCount;
      }
      // Never past the cap, and nothing more is created once it is reached.
      expect(cad.contextCount).toBeLessThanOrEqual(maxContexts);
      if (capAt >= 0) expect(cad.semiContextCount).toBe(semiAtCap);
    }
    expect(capAt).toBe(34);
    expect(cad.contextCount).toBe(maxContexts);
    expect(cad.semiContextCount).toBe(136);
    // Scoring goes on at the cap (the step that reaches it, the one after, and long after).
    expect([capAt, capAt + 1, 1000, 2000, 2999].map((i) => scores[i])).toEqual([
      0.7127329192546584, 0.28488372093023256, 0.3356164383561644, 0.36184210526315785, 0.2571428571428571,
    ]);
    expect(new Set(scores.slice(capAt + 1)).size).toBe(384);
    expect(sum(scores)).toBe(994.1917026084712);
  });

  it('gives the same scores after the cap whatever the cap was reached by (zero-level or learned contexts)', () => {
    // Tiny caps are reached mid-step by a zero-level context or in the middle of a batch of
    // learned ones; either way the detector goes on scoring, in [0, 1], deterministically.
    for (const maxContexts of [1, 2, 3, 5, 8, 13]) {
      const config = { ...DEFAULT_CONTEXTUAL_ANOMALY, maxContexts };
      const run = (): number[] => {
        const rnd = noise(maxContexts);
        const cad = new ContextualAnomaly({ inputMin: 0, inputMax: 1, probationaryPeriod: 50 }, config);
        return Array.from({ length: 400 }, (_, i) => cad.rawScore({ ts: i * MINUTE, value: rnd() }));
      };
      const a = run();
      expect(a.every((s) => s >= 0 && s <= 1)).toBe(true);
      expect(run()).toEqual(a);
    }
  });
});
