/** Test fixtures: sample columns, a seeded generator for realistic series, fast-check arbitraries. */
import fc from 'fast-check';
import type { SampleColumns } from '../../../src/telemetry/codec/chunk-codec.ts';

export const GOOD = 192;
export const BAD = 0;
export const UNCERTAIN = 64;
const T0 = 1_750_000_000_000;

export interface Sample {
  ts: number;
  /** NaN for null. */
  value: number;
  quality: number;
}

export function columnsOf(samples: readonly Sample[]): SampleColumns {
  const n = samples.length;
  const cols: SampleColumns = { count: n, ts: new Float64Array(n), value: new Float64Array(n), quality: new Uint8Array(n) };
  samples.forEach((s, i) => {
    cols.ts[i] = s.ts;
    cols.value[i] = s.value;
    cols.quality[i] = s.quality;
  });
  return cols;
}

/** Columns holding samples [start, end) of `cols`, as decodeChunk returns them. */
export function sliceColumns(cols: SampleColumns, start: number, end: number): SampleColumns {
  return { count: end - start, ts: cols.ts.slice(start, end), value: cols.value.slice(start, end), quality: cols.quality.slice(start, end) };
}

/** Deterministic uniform [0, 1) generator (mulberry32), so sizes asserted in tests never vary. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the guardian makes of a register: Number.parseFloat((raw * scale).toPrecision(12)). */
export const fromRegister = (raw: number, scale: number): number => Number.parseFloat((raw * scale).toPrecision(12));

/** A 1 Hz poll: each timestamp `periodMs` after the schedule's start plus up to ±jitterMs. */
export function polledTimes(n: number, random: () => number, periodMs = 1000, jitterMs = 5): number[] {
  return Array.from({ length: n }, (_, i) => T0 + i * periodMs + Math.round((random() * 2 - 1) * jitterMs));
}

/** A supply-air temperature read as a 0.1 °C register: a slow drift with sensor flicker. */
export function registerTemperatures(n: number, random: () => number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const tenths = Math.round(220 + 15 * Math.sin((2 * Math.PI * i) / 3600) + (random() - 0.5) * 2);
    return fromRegister(tenths, 0.1);
  });
}

/** A door contact: 0 or 1, changing a few times per hour. */
export function doorContact(n: number, random: () => number): number[] {
  let state = 0;
  return Array.from({ length: n }, () => {
    if (random() < 1 / 600) state = 1 - state;
    return state;
  });
}

export function series(ts: readonly number[], values: readonly number[], quality: (i: number) => number = () => GOOD): SampleColumns {
  return columnsOf(ts.map((t, i) => ({ ts: t, value: values[i]!, quality: quality(i) })));
}

// ───────────── fast-check arbitraries ─────────────

/** Steps between neighbours: ties, 1 Hz with jitter, irregular, and gaps up to thousands of years. */
const step = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 995, max: 1005 }) },
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 100_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 48 - 1, 2 ** 48, 2 ** 50 + 3) },
);

/** Non-decreasing safe-integer timestamps of a given length. */
export function sortedTimestamps(n: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    // Walks: mostly small steps from anywhere in the safe range.
    fc.tuple(fc.oneof(fc.integer({ min: -1e13, max: 4e12 }), fc.constantFrom(Number.MIN_SAFE_INTEGER, -(2 ** 52), 0)), fc.array(step, { minLength: n, maxLength: n }))
      .map(([first, steps]) => {
        const out: number[] = [];
        let t = first;
        for (let i = 0; i < n; i++) {
          out.push(t);
          const next = t + steps[i]!;
          if (Number.isSafeInteger(next)) t = next;
        }
        return out;
      }),
    // Anywhere in the safe range, sorted: deltas beyond 2^48 (escapes) and extremes.
    fc.array(fc.oneof(fc.maxSafeInteger(), fc.constantFrom(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, -1, 0)), { minLength: n, maxLength: n })
      .map((ts) => ts.sort((a, b) => a - b)),
  );
}

/** Any double the store may hold: NaN is null; ±0, subnormals, ±MAX_VALUE and ±Infinity included. */
const anyValue = fc.oneof(
  fc.double(),
  fc.constantFrom(NaN, -0, 0, 5e-324, -5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, -Number.MAX_VALUE, Infinity, -Infinity),
);

/** Values of one style per chunk, so that whole chunks qualify for the decimal scheme too. */
function valuesOf(n: number): fc.Arbitrary<number[]> {
  const withNulls = (arb: fc.Arbitrary<number>): fc.Arbitrary<number> => fc.oneof({ weight: 5, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(NaN) });
  const decimal = fc.integer({ min: 0, max: 6 }).chain((d) =>
    fc.array(withNulls(fc.oneof(fc.integer({ min: -3000, max: 3000 }), fc.integer({ min: -(2 ** 52) + 1, max: 2 ** 52 - 1 })).map((k) => k / 10 ** d)), { minLength: n, maxLength: n }));
  const walk = fc.tuple(fc.integer({ min: -100_000, max: 100_000 }), fc.array(fc.integer({ min: -3, max: 3 }), { minLength: n, maxLength: n }))
    .map(([start, steps]) => {
      let k = start;
      return steps.map((s) => fromRegister((k += s), 0.01));
    });
  return fc.oneof(
    fc.array(anyValue, { minLength: n, maxLength: n }),
    decimal,
    walk,
    fc.array(withNulls(fc.constantFrom(0, 1)), { minLength: n, maxLength: n }),
    fc.array(fc.constant(NaN), { minLength: n, maxLength: n }),
    fc.double({ noNaN: true }).map((v) => new Array<number>(n).fill(v)),
  );
}

function qualitiesOf(n: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    fc.constant(new Array<number>(n).fill(GOOD)),
    fc.array(fc.constantFrom(GOOD, GOOD, GOOD, BAD, UNCERTAIN), { minLength: n, maxLength: n }),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: n, maxLength: n }),
  );
}

/** Sample columns in the shapes the store hands to encodeChunk (sorted, NaN for null). */
export function sampleColumns(maxLength = 300): fc.Arbitrary<SampleColumns> {
  return fc.integer({ min: 0, max: maxLength }).chain((n) =>
    fc.tuple(sortedTimestamps(n), valuesOf(n), qualitiesOf(n)).map(([ts, values, qualities]) => series(ts, values, (i) => qualities[i]!)));
}
