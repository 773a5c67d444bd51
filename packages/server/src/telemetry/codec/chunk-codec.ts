/**
 * The per-point chunk format: one point's samples over a span of time (120–4096 samples, up to a
 * few hours), sealed into one compressed blob. Version 2 is written; version 1 (varints + XOR,
 * then deflate) is still read so older databases stay readable.
 *
 * Version 2 layout. Everything is one most-significant-bit-first bit stream; the first four fields
 * happen to be byte-aligned. "gamma(x)" is an Elias-gamma code (x ≥ 1: bitlength(x)−1 zero bits,
 * then x), "svar(x)" a signed integer as 6 bits of bitlength(|x|), |x| in that many bits, and a
 * sign bit when x ≠ 0.
 *
 *   u8      version = 2
 *   varint  count (LEB128, ≤ 1,000,000)                        ─ a count of 0 ends the chunk here
 *   u8      flags: bits 0-1 value scheme (0 every value null, 1 decimal, 2 XOR),
 *                  bits 2-4 decimal digits d (0..6), bits 5-7 zero
 *   zvarint first timestamp (LEB128 of the zigzag code, built from sign and magnitude so that
 *           every safe integer, including negative ones, is exact)
 *   quality runs: gamma(runs), then per run: u8 quality, gamma(length) (the last length is implied)
 *   null runs:    gamma(runs), runs alternate non-null/null starting with non-null; lengths as
 *                 gamma(first + 1), gamma(next)... (last implied). No nulls costs one bit.
 *   timestamps:   integer stream of the count timestamps (below)
 *   values:       decimal: svar(k0), integer stream of the k of the non-null values, value = k / 10^d
 *                 XOR: 64 raw bits of the first non-null value, then Gorilla XOR codes (below)
 *   zero bits to the byte boundary, then CRC-32 (IEEE, big-endian) of all bytes before it.
 *
 * Integer stream (timestamps; decimal mantissas). Values x0..x(m-1); x0 is stored apart. Each
 * delta = x(i) − x(i−1) is coded as a residual against a reference: order 1 uses a constant
 * period P (the median of a few deltas), order 2 the previous delta (Gorilla's delta-of-delta,
 * Pelkonen et al., VLDB 2015 §4.1.1). The residual's zigzag code goes into one of N ≤ 6 classes
 * of fixed width, picked by a unary prefix (class j: j one-bits and a zero; the last class: N−1
 * one-bits, so N = 1 has no prefix at all). Gorilla and Prometheus (tsdb/chunkenc/xor.go) fix the
 * class widths for every series; here the encoder chooses order, N and widths per chunk from a
 * histogram of code lengths (an exact dynamic program over the chunk's actual lengths), because
 * "1 Hz with ±5 ms of jitter" wants a 3–5 bit class, a steady counter wants a 0-bit class and
 * event timestamps want wide ones. For 1 Hz polls with ±1/±5/±20 ms of jitter, timestamps
 * cost 2.8/4.8/6.8 bits each; Gorilla's fixed buckets would spend 9 bits ('10' + 7) on the ±5 ms
 * case and Prometheus' 16. The residual against the period is 0.85 bit cheaper there than the
 * delta-of-delta (jitter enters a delta once, a delta-of-delta twice). Stream parameters:
 *   1 bit order (0: order 1, 1: order 2), [svar(P) for order 1], 3 bits N, 1 bit escape,
 *   1 bit zero runs, 6 bits width per normal class (strictly increasing, ≤ 50).
 * With the escape bit set, the last class is an escape: a sign bit and 53 bits of the absolute
 * value x(i). Deltas of 2^48 or more always escape (so every residual is computed exactly in
 * doubles); the encoder may also escape rare wide residuals when that is cheaper than a class.
 * With zero runs set, class 0 has width 0 and each of its codes is followed by gamma(run): that
 * many zero residuals in a row. A contact or a setpoint that holds its value then costs a few
 * bits per change instead of one bit per sample (Gorilla's floor).
 *
 * XOR codes (Gorilla §4.1.2, as in Prometheus' xor.go): each value XOR the previous one. '0' when
 * equal; '10' and the bits inside the previous window of meaningful bits when the XOR fits it;
 * '11', 5 bits of leading zeros (at most 31), 6 bits of meaningful length (64 stored as 0) and
 * those bits otherwise.
 *
 * Decimal: register data arrives as Number.parseFloat(x.toPrecision(12)) of raw × scale, i.e. the
 * nearest double to a short decimal. When every non-null value v satisfies
 * Math.round(v · 10^d) / 10^d === v for one d ≤ 6 (with |k| < 2^52), k / 10^d gives back the
 * very same double (one correctly rounded division), and the small integers k compress far better
 * than their XORs. −0 is left to the XOR scheme. The encoder writes whichever scheme is smaller.
 *
 * Edges: any NaN (whatever its payload) is a null and reads back as NaN; ±Infinity is stored (by
 * XOR); a −0 timestamp reads back as 0. encodeChunk throws a RangeError for timestamps that go
 * backwards or are not safe integers, and for more than MAX_CHUNK_SAMPLES samples, so that a
 * chunk it writes can always be read.
 *
 * Why a CRC: SQLite does not checksum pages, and a flipped bit in a compressed stream would
 * otherwise decode into plausible wrong history. Structural checks stay, for forged checksums:
 * every count is bounded, every loop is bounded by a count, and reads past the end are caught.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { TelemetryError } from '../telemetry-error.ts';
import { BitReader } from './bit-reader.ts';
import { BitWriter } from './bit-writer.ts';

/** Samples of one point in time order (ties keep arrival order). `value` is NaN where the reading was null (a failed read). */
export interface SampleColumns {
  count: number;
  /** Integer epoch milliseconds (may be any safe integer, including negative; equal neighbours allowed). */
  ts: Float64Array;
  /** Finite doubles (incl. -0, booleans stored as 0/1), or NaN for null. */
  value: Float64Array;
  /** 0..255 (OPC-style: mostly 192 = good, 0 = bad, 64 = uncertain). */
  quality: Uint8Array;
}

export interface ChunkSummary {
  /** Samples in the chunk. */
  count: number;
  /** Non-null values. */
  valueCount: number;
  /** Over non-null values (Math.min/Math.max order, so −0 < 0); NaN when valueCount is 0. */
  min: number;
  max: number;
  sum: number;
  /** NaN when count is 0. */
  firstTs: number;
  lastTs: number;
}

/** How a chunk stores its values: `none` when every value is null; `v1` for the old deflate format. */
export type ValueScheme = 'none' | 'decimal' | 'xor';

export interface ChunkDescription {
  version: 1 | 2;
  count: number;
  /** Version 2 only. */
  valueScheme?: ValueScheme;
  /** Decimal digits d of a decimal chunk (values are k / 10^d). */
  decimals?: number;
}

/** A chunk never holds more samples than this; decoding refuses larger counts before allocating. */
export const MAX_CHUNK_SAMPLES = 1_000_000;

const VERSION_1 = 1;
const VERSION_2 = 2;
const SCHEME_CODE: Record<ValueScheme, number> = { none: 0, decimal: 1, xor: 2 };

const TWO_32 = 2 ** 32;
/** Deltas at or beyond this escape, so delta, residual and their sums stay exact in doubles. */
const EXACT_DELTA = 2 ** 48;
/** Residuals are below 2^49 in magnitude: zigzag codes need at most 50 bits. */
const MAX_CODE_BITS = 50;
/** An escape stores the absolute value: sign and 53 bits of magnitude. */
const ESCAPE_BITS = 54;
const MAX_CLASSES = 6;
const MAX_DECIMALS = 6;
const MAX_DECIMAL_K = 2 ** 52;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];

/** Which 32-bit half of a Float64Array element holds the sign and exponent on this machine. */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

function corrupt(reason: string): TelemetryError {
  return new TelemetryError('telemetry_chunk_corrupt', `a telemetry chunk could not be decoded (${reason}): the database file is damaged or was written by an unknown version`, { reason });
}

// ───────────────────────────── encoding ─────────────────────────────

/** Parameters of one integer stream, chosen by `planStream`. */
class StreamPlan {
  order: 1 | 2 = 1;
  period = 0;
  classes = 1;
  escape = false;
  /** Class 0 holds zero residuals only, each of its codes followed by gamma(run length). */
  zeroRuns = false;
  /** Widths of the normal classes (classes − escape of them). */
  readonly widths = new Int32Array(MAX_CLASSES);
  /** Exact size of the stream with these parameters, parameters included. */
  bits = 0;
}

// Scratch reused by every call: encodeChunk and decodeChunk are synchronous, so never re-entered.
const writer = new BitWriter(64 * 1024);
const reader = new BitReader();
const histOrder1 = new Float64Array(MAX_CODE_BITS + 1);
const histOrder2 = new Float64Array(MAX_CODE_BITS + 1);
const tsPlan = new StreamPlan();
const valuePlan = new StreamPlan();
const candidatePlan = new StreamPlan();
let mantissas = new Float64Array(4096);
let runLengths = new Int32Array(256);

/** Encodes samples [start, end) of cols (already sorted by ts). Returns the chunk bytes. */
export function encodeChunk(cols: SampleColumns, start = 0, end = cols.count): Uint8Array {
  return encode(cols, start, end, 'auto');
}

/**
 * Like `encodeChunk`, but with the value scheme forced instead of chosen by size (for tests and
 * the benchmark). `decimal` throws a RangeError when some value is not a short decimal.
 */
export function encodeChunkWithScheme(scheme: 'decimal' | 'xor', cols: SampleColumns, start = 0, end = cols.count): Uint8Array {
  return encode(cols, start, end, scheme);
}

function encode(cols: SampleColumns, start: number, end: number, scheme: 'auto' | 'decimal' | 'xor'): Uint8Array {
  const n = end - start;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && n >= 0 && end <= cols.count)) {
    throw new RangeError(`encodeChunk: samples [${start}, ${end}) are not within the ${cols.count} columns`);
  }
  if (cols.ts.length < end || cols.value.length < end || cols.quality.length < end) {
    throw new RangeError('encodeChunk: a column is shorter than count');
  }
  if (n > MAX_CHUNK_SAMPLES) throw new RangeError(`encodeChunk: ${n} samples exceed the ${MAX_CHUNK_SAMPLES} a chunk may hold`);
  const { ts, value, quality } = cols;
  const w = writer;
  w.reset();
  w.writeBits(VERSION_2, 8);
  writeVarint(w, n);
  if (n === 0) return sealChunk(w, -1, 0);

  checkTimestamps(ts, start, end);
  let valueCount = 0;
  for (let i = start; i < end; i++) if (value[i] === value[i]) valueCount++;

  const flagsByte = w.bitLength >>> 3;
  w.writeBits(0, 8); // flags: patched once the value scheme is known
  writeZigzagVarint(w, ts[start]!);
  writeQualityRuns(w, quality, start, end);
  writeNullRuns(w, value, start, end);
  planStream(ts, start, end, tsPlan);
  writeStream(w, ts, start, end, tsPlan);

  if (valueCount === 0) return sealChunk(w, flagsByte, SCHEME_CODE.none);
  const decimals = scheme === 'xor' ? -1 : decimalDigits(value, start, end);
  if (scheme === 'decimal' && decimals < 0) throw new RangeError('encodeChunkWithScheme: some value is not k / 10^d with d ≤ 6');
  if (decimals >= 0 && fillMantissas(value, start, end, decimals, valueCount)) {
    planStream(mantissas, 0, valueCount, valuePlan);
    const decimalBits = svarBits(mantissas[0]!) + valuePlan.bits;
    const mark = w.bitLength;
    // An XOR code costs at least one bit per value after 64 for the first: skip the attempt
    // when decimal cannot lose.
    if (scheme === 'auto' && decimalBits > 64 + (valueCount - 1)) {
      writeXorValues(w, value, start, end);
      if (w.bitLength - mark < decimalBits) return sealChunk(w, flagsByte, SCHEME_CODE.xor);
      w.rewind(mark);
    }
    writeSvar(w, mantissas[0]!);
    writeStream(w, mantissas, 0, valueCount, valuePlan);
    return sealChunk(w, flagsByte, SCHEME_CODE.decimal | (decimals << 2));
  }
  if (scheme === 'decimal') throw new RangeError('encodeChunkWithScheme: some value is not k / 10^d with d ≤ 6');
  writeXorValues(w, value, start, end);
  return sealChunk(w, flagsByte, SCHEME_CODE.xor);
}

/** Pads, patches the flags byte, appends the CRC and copies the chunk out of the scratch writer. */
function sealChunk(w: BitWriter, flagsByte: number, flags: number): Uint8Array {
  const body = w.finish();
  const out = Buffer.allocUnsafeSlow(body.length + 4);
  out.set(body);
  if (flagsByte >= 0) out[flagsByte] = flags;
  out.writeUInt32BE(crc32(out.subarray(0, body.length)), body.length);
  return out;
}

function checkTimestamps(ts: Float64Array, start: number, end: number): void {
  let prev = ts[start]!;
  if (!Number.isSafeInteger(prev)) throw new RangeError(`encodeChunk: timestamp ${prev} is not a safe integer`);
  for (let i = start + 1; i < end; i++) {
    const t = ts[i]!;
    // The chunk's ordering is what readers rely on: refuse to seal a store bug.
    if (!(t >= prev) || !Number.isSafeInteger(t)) {
      throw new RangeError(`encodeChunk: timestamps must be non-decreasing safe integers (${prev} then ${t} at ${i})`);
    }
    prev = t;
  }
}

/**
 * The smallest d ≤ 6 such that every non-null value is k / 10^d exactly, or −1. Passing at d
 * implies passing at d + 1 (10k / 10^(d+1) is the same correctly rounded quotient), so d only grows.
 */
function decimalDigits(value: Float64Array, start: number, end: number): number {
  let d = 0;
  let p = 1;
  for (let i = start; i < end; i++) {
    const v = value[i]!;
    if (v !== v) continue;
    if (v === 0) {
      if (1 / v < 0) return -1; // −0 has no integer mantissa
      continue;
    }
    for (;;) {
      const k = Math.round(v * p);
      if (k / p === v && k < MAX_DECIMAL_K && k > -MAX_DECIMAL_K) break;
      if (++d > MAX_DECIMALS) return -1;
      p = POW10[d]!;
    }
  }
  return d;
}

/** Fills `mantissas` with the k of each non-null value; false if one does not round-trip at d. */
function fillMantissas(value: Float64Array, start: number, end: number, d: number, valueCount: number): boolean {
  if (mantissas.length < valueCount) mantissas = new Float64Array(Math.max(valueCount, mantissas.length * 2));
  const p = POW10[d]!;
  const ks = mantissas;
  let j = 0;
  for (let i = start; i < end; i++) {
    const v = value[i]!;
    if (v !== v) continue;
    const k = Math.round(v * p); // never −0: decimalDigits left −0 to XOR
    if (k / p !== v || !(k < MAX_DECIMAL_K && k > -MAX_DECIMAL_K)) return false;
    ks[j++] = k;
  }
  return true;
}

/** Zigzag code length of an integer residual |r| < 2^49: 0 for 0, else bitlength(2|r| − (r < 0)). */
function codeLength(r: number): number {
  const m = r >= 0 ? r : -r - 1;
  if (m === 0) return r >= 0 ? 0 : 1;
  return (m < 0x80000000 ? 33 - Math.clz32(m) : 65 - Math.clz32(m / TWO_32));
}

/** Median of up to nine deltas spread over the stream (those below the escape threshold). */
function samplePeriod(x: Float64Array, start: number, end: number): number {
  const picks: number[] = [];
  const steps = Math.min(9, end - start - 1);
  for (let j = 0; j < steps; j++) {
    const i = start + 1 + Math.floor((j * (end - start - 1)) / steps);
    const delta = x[i]! - x[i - 1]!;
    if (delta < EXACT_DELTA && delta > -EXACT_DELTA) picks.push(delta);
  }
  if (picks.length === 0) return 0;
  picks.sort((a, b) => a - b);
  return picks[picks.length >> 1]!;
}

/** Chooses order, period, zero runs and classes for the stream x[start..end) (nothing to choose below 2 values). */
function planStream(x: Float64Array, start: number, end: number, plan: StreamPlan): void {
  if (end - start < 2) {
    plan.bits = 0;
    return;
  }
  const period = samplePeriod(x, start, end);
  histOrder1.fill(0);
  histOrder2.fill(0);
  let escapes = 0;
  // Zero residuals in runs, per order: how many runs and what their gamma lengths cost.
  let run1 = 0;
  let run2 = 0;
  let runs1 = 0;
  let runs2 = 0;
  let runBits1 = 0;
  let runBits2 = 0;
  let prev = x[start]!;
  let prevDelta = 0;
  for (let i = start + 1; i < end; i++) {
    const xi = x[i]!;
    const delta = xi - prev;
    prev = xi;
    let len1 = -1;
    let len2 = -1;
    if (delta < EXACT_DELTA && delta > -EXACT_DELTA) {
      len1 = codeLength(delta - period);
      len2 = codeLength(delta - prevDelta);
      histOrder1[len1]!++;
      histOrder2[len2]!++;
      prevDelta = delta;
    } else {
      escapes++;
      prevDelta = 0;
    }
    if (len1 === 0) run1++;
    else if (run1 > 0) {
      runs1++;
      runBits1 += gammaBits(run1);
      run1 = 0;
    }
    if (len2 === 0) run2++;
    else if (run2 > 0) {
      runs2++;
      runBits2 += gammaBits(run2);
      run2 = 0;
    }
  }
  if (run1 > 0) {
    runs1++;
    runBits1 += gammaBits(run1);
  }
  if (run2 > 0) {
    runs2++;
    runBits2 += gammaBits(run2);
  }
  const periodBits = 1 + svarBits(period);
  plan.bits = Infinity;
  considerPlan(plan, 1, period, periodBits, histOrder1, escapes, false, 0);
  considerPlan(plan, 1, period, periodBits, histOrder1, escapes, true, runBits1, runs1);
  considerPlan(plan, 2, 0, 1, histOrder2, escapes, false, 0);
  considerPlan(plan, 2, 0, 1, histOrder2, escapes, true, runBits2, runs2);
}

/** Keeps in `plan` the cheaper of its current choice and the best classes for this order and mode. */
function considerPlan(
  plan: StreamPlan, order: 1 | 2, period: number, orderBits: number, hist: Float64Array, escapes: number,
  zeroRuns: boolean, runBits: number, runs = 0,
): void {
  if (zeroRuns) {
    if (runs === 0) return;
    // Each run of zero residuals is one class-0 code.
    runHist.set(hist);
    runHist[0] = runs;
    hist = runHist;
  }
  chooseClasses(hist, escapes, zeroRuns, candidatePlan);
  const bits = candidatePlan.bits + orderBits + runBits;
  if (bits >= plan.bits) return;
  plan.order = order;
  plan.period = period;
  plan.zeroRuns = zeroRuns;
  plan.classes = candidatePlan.classes;
  plan.escape = candidatePlan.escape;
  plan.widths.set(candidatePlan.widths);
  plan.bits = bits;
}

const runHist = new Float64Array(MAX_CODE_BITS + 1);
const lengths = new Int32Array(MAX_CODE_BITS + 1);
const cumulative = new Float64Array(MAX_CODE_BITS + 2);
/** dp[j * STRIDE + i]: cheapest cost of the first i distinct lengths in j classes; from[]: the split. */
const STRIDE = MAX_CODE_BITS + 2;
const dp = new Float64Array((MAX_CLASSES + 1) * STRIDE);
const from = new Int32Array((MAX_CLASSES + 1) * STRIDE);

/** Prefix length of class j of n classes (unary code, the last one without its terminating zero). */
const prefixLength = (j: number, n: number): number => (j < n - 1 ? j + 1 : n - 1);

/**
 * Exact minimum over N ≤ 6 classes, the escape option and every split of the chunk's distinct
 * code lengths into contiguous classes (a class's width is the largest length in it): a small
 * dynamic program, at most a few thousand steps for the ~5–15 distinct lengths of real data.
 * With `zeroRuns`, class 0 must hold length 0 alone.
 */
function chooseClasses(hist: Float64Array, escapes: number, zeroRuns: boolean, plan: StreamPlan): void {
  let s = 0;
  cumulative[0] = 0;
  for (let len = 0; len <= MAX_CODE_BITS; len++) {
    if (hist[len]! > 0) {
      lengths[s] = len;
      cumulative[s + 1] = cumulative[s]! + hist[len]!;
      s++;
    }
  }
  const total = cumulative[s]!;
  // (With zeroRuns the histogram holds the runs at length 0, so lengths[0] is 0.)
  let best = Infinity;
  for (let n = 1; n <= MAX_CLASSES; n++) {
    for (let e = escapes > 0 ? 1 : 0; e <= 1; e++) {
      const k = n - e;
      if (k > s || (k === 0 && (e === 0 || zeroRuns))) continue;
      // dp over j = 1..k normal classes.
      for (let i = 1; i <= s; i++) dp[STRIDE + i] = zeroRuns && i > 1 ? Infinity : cumulative[i]! * (prefixLength(0, n) + lengths[i - 1]!);
      for (let j = 2; j <= k; j++) {
        const cost = prefixLength(j - 1, n);
        for (let i = j; i <= s; i++) {
          let min = Infinity;
          let arg = 0;
          for (let p = j - 1; p < i; p++) {
            const c = dp[(j - 1) * STRIDE + p]! + (cumulative[i]! - cumulative[p]!) * (cost + lengths[i - 1]!);
            if (c < min) {
              min = c;
              arg = p;
            }
          }
          dp[j * STRIDE + i] = min;
          from[j * STRIDE + i] = arg;
        }
      }
      const params = 3 + 1 + 1 + 6 * k;
      const escapeCost = prefixLength(n - 1, n) + ESCAPE_BITS;
      // With an escape, the normal classes may stop short of the widest lengths.
      for (let t = e === 0 ? s : k; t <= s; t++) {
        if (k === 0 && t > 0) break;
        const normal = k === 0 ? 0 : dp[k * STRIDE + t]!;
        const cost = params + normal + (e === 1 ? (total - cumulative[t]! + escapes) * escapeCost : 0);
        if (cost < best) {
          best = cost;
          plan.classes = n;
          plan.escape = e === 1;
          let i = t;
          for (let j = k; j >= 1; j--) {
            plan.widths[j - 1] = lengths[i - 1]!;
            i = j > 1 ? from[j * STRIDE + i]! : 0;
          }
        }
      }
    }
  }
  plan.bits = best;
}

/** Writes the stream's parameters and the residuals of x[start+1..end) (x[start] is stored apart). */
function writeStream(w: BitWriter, x: Float64Array, start: number, end: number, plan: StreamPlan): void {
  if (end - start < 2) return;
  const n = plan.classes;
  const normal = n - (plan.escape ? 1 : 0);
  w.writeBits(plan.order === 2 ? 1 : 0, 1);
  if (plan.order === 1) writeSvar(w, plan.period);
  w.writeBits(n, 3);
  w.writeBits(plan.escape ? 1 : 0, 1);
  w.writeBits(plan.zeroRuns ? 1 : 0, 1);
  for (let j = 0; j < normal; j++) w.writeBits(plan.widths[j]!, 6);

  // Class of each code length, and each class's prefix bits.
  const classOf = new Int8Array(MAX_CODE_BITS + 1);
  for (let len = 0, j = 0; len <= MAX_CODE_BITS; len++) {
    while (j < normal && plan.widths[j]! < len) j++;
    classOf[len] = j < normal ? j : n - 1; // beyond the widest normal class: the escape
  }
  const prefix = new Int32Array(n);
  const prefixLen = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    prefixLen[j] = prefixLength(j, n);
    prefix[j] = j < n - 1 ? ((1 << j) - 1) << 1 : (1 << (n - 1)) - 1;
  }
  const widths = plan.widths;
  const escapeClass = plan.escape ? n - 1 : -1;
  const order2 = plan.order === 2;
  const period = plan.period;
  const zeroRuns = plan.zeroRuns;
  let zeros = 0;
  let prev = x[start]!;
  let prevDelta = 0;
  for (let i = start + 1; i < end; i++) {
    const xi = x[i]!;
    const delta = xi - prev;
    prev = xi;
    const exact = delta < EXACT_DELTA && delta > -EXACT_DELTA;
    const r = exact ? delta - (order2 ? prevDelta : period) : 0;
    prevDelta = exact ? delta : 0;
    if (zeroRuns) {
      if (exact && r === 0) {
        zeros++;
        continue;
      }
      if (zeros > 0) {
        w.writeBits(prefix[0]!, prefixLen[0]!);
        writeGamma(w, zeros);
        zeros = 0;
      }
    }
    const cls = exact ? classOf[codeLength(r)]! : escapeClass;
    if (cls === escapeClass) {
      w.writeBits(prefix[cls]!, prefixLen[cls]!);
      w.writeBits(xi < 0 ? 1 : 0, 1);
      w.writeWide(Math.abs(xi), 53);
      continue;
    }
    const width = widths[cls]!;
    const plen = prefixLen[cls]!;
    if (plen + width <= 31) {
      // Small codes (almost all): prefix and zigzag code in one call.
      const zz = r >= 0 ? r * 2 : -r * 2 - 1;
      w.writeBits((prefix[cls]! << width) | zz, plen + width);
    } else {
      w.writeBits(prefix[cls]!, plen);
      w.writeWide(r >= 0 ? r : -r - 1, width - 1);
      w.writeBits(r < 0 ? 1 : 0, 1);
    }
  }
  if (zeros > 0) {
    w.writeBits(prefix[0]!, prefixLen[0]!);
    writeGamma(w, zeros);
  }
}

/** Gorilla XOR of the non-null values of value[start..end) (there is at least one). */
function writeXorValues(w: BitWriter, value: Float64Array, start: number, end: number): void {
  const bits = new Uint32Array(value.buffer, value.byteOffset, value.length * 2);
  let i = start;
  while (value[i] !== value[i]) i++;
  let ph = bits[2 * i + HI]!;
  let pl = bits[2 * i + LO]!;
  w.writeBits(ph, 32);
  w.writeBits(pl, 32);
  let windowLead = -1; // no window yet
  let windowTrail = 0;
  for (i++; i < end; i++) {
    const v = value[i]!;
    if (v !== v) continue;
    const h = bits[2 * i + HI]!;
    const l = bits[2 * i + LO]!;
    const xh = h ^ ph;
    const xl = l ^ pl;
    ph = h;
    pl = l;
    if ((xh | xl) === 0) {
      w.writeBits(0, 1);
      continue;
    }
    let lead = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
    if (lead > 31) lead = 31; // 5 bits, as in Gorilla
    const trail = xl !== 0 ? 31 - Math.clz32(xl & -xl) : 63 - Math.clz32(xh & -xh);
    if (windowLead >= 0 && lead >= windowLead && trail >= windowTrail) {
      w.writeBits(0b10, 2);
      writeShifted(w, xh, xl, windowTrail, 64 - windowLead - windowTrail);
    } else {
      const significant = 64 - lead - trail;
      w.writeBits((0b11 << 11) | (lead << 6) | (significant & 63), 13);
      writeShifted(w, xh, xl, trail, significant);
      windowLead = lead;
      windowTrail = trail;
    }
  }
}

/** Writes the low n bits of the 64-bit (hi:lo) shifted right by `shift`. */
function writeShifted(w: BitWriter, hi: number, lo: number, shift: number, n: number): void {
  if (shift >= 32) {
    w.writeBits(hi >>> (shift - 32), n);
    return;
  }
  const l = shift === 0 ? lo : (lo >>> shift) | (hi << (32 - shift));
  if (n > 32) {
    w.writeBits(hi >>> shift, n - 32);
    w.writeBits(l, 32);
  } else {
    w.writeBits(l, n);
  }
}

function writeQualityRuns(w: BitWriter, quality: Uint8Array, start: number, end: number): void {
  let runs = 1;
  for (let i = start + 1; i < end; i++) if (quality[i] !== quality[i - 1]) runs++;
  writeGamma(w, runs);
  let runStart = start;
  for (let i = start + 1; i <= end; i++) {
    if (i < end && quality[i] === quality[i - 1]) continue;
    w.writeBits(quality[runStart]!, 8);
    if (i < end) writeGamma(w, i - runStart);
    runStart = i;
  }
}

function writeNullRuns(w: BitWriter, value: Float64Array, start: number, end: number): void {
  // Runs alternate non-null / null, starting with a (possibly empty) non-null run.
  let runs = 1;
  let isNull = false;
  for (let i = start; i < end; i++) {
    const v = value[i]!;
    if ((v !== v) !== isNull) {
      runs++;
      isNull = !isNull;
    }
  }
  writeGamma(w, runs);
  if (runs === 1) return;
  isNull = false;
  let runStart = start;
  let written = 0;
  for (let i = start; i < end && written < runs - 1; i++) {
    const v = value[i]!;
    if ((v !== v) === isNull) continue;
    writeGamma(w, written === 0 ? i - runStart + 1 : i - runStart);
    written++;
    runStart = i;
    isNull = !isNull;
  }
}

const gammaBits = (x: number): number => 2 * (32 - Math.clz32(x)) - 1;

function writeGamma(w: BitWriter, x: number): void {
  const len = 32 - Math.clz32(x);
  w.writeBits(0, len - 1);
  w.writeBits(x, len);
}

/** Bit length of a non-negative safe integer. */
function bitLength(m: number): number {
  return m < TWO_32 ? 32 - Math.clz32(m) : 64 - Math.clz32(m / TWO_32);
}

function svarBits(x: number): number {
  const len = bitLength(Math.abs(x));
  return 6 + len + (len > 0 ? 1 : 0);
}

function writeSvar(w: BitWriter, x: number): void {
  const m = Math.abs(x);
  const len = bitLength(m);
  w.writeBits(len, 6);
  w.writeWide(m, len);
  if (len > 0) w.writeBits(x < 0 ? 1 : 0, 1);
}

function writeVarint(w: BitWriter, v: number): void {
  while (v >= 128) {
    w.writeBits((v % 128) | 128, 8);
    v = Math.floor(v / 128);
  }
  w.writeBits(v, 8);
}

/**
 * LEB128 of zigzag(x) = 2|x| − (x < 0), built from sign and magnitude: the code of a safe integer
 * can reach 2^54, where doubles no longer hold every integer.
 */
function writeZigzagVarint(w: BitWriter, x: number): void {
  const negative = x < 0;
  let m = negative ? -x - 1 : x;
  const first = ((m % 64) * 2) | (negative ? 1 : 0);
  m = Math.floor(m / 64);
  w.writeBits(m > 0 ? first | 128 : first, 8);
  if (m > 0) writeVarint(w, m);
}

// ───────────────────────────── decoding ─────────────────────────────

/** Decodes a chunk of either version; throws TelemetryError('telemetry_chunk_corrupt', ...) on damaged bytes. */
export function decodeChunk(data: Uint8Array): SampleColumns {
  if (data.length === 0) throw corrupt('empty chunk');
  try {
    // Version 1 chunks are raw deflate streams, whose first byte is never 2 as zlib writes them:
    // 2 would be a non-final fixed-Huffman block opening with an end-of-block or length code.
    return data[0] === VERSION_2 ? decodeVersion2(data) : decodeVersion1(data);
  } catch (err) {
    if (err instanceof TelemetryError) throw err;
    throw corrupt(err instanceof Error ? err.message : String(err));
  }
}

/** Version, count and value scheme of a chunk, read from its header (checksum verified). */
export function describeChunk(data: Uint8Array): ChunkDescription {
  if (data[0] !== VERSION_2) return { version: 1, count: decodeChunk(data).count };
  const r = openVersion2(data);
  r.skip(8);
  const count = readVarint(r, MAX_CHUNK_SAMPLES);
  if (count === 0) return { version: 2, count, valueScheme: 'none' };
  const flags = r.readBits(8);
  const valueScheme = (['none', 'decimal', 'xor'] as const)[flags & 3];
  if (!valueScheme) throw corrupt('unknown value scheme');
  return valueScheme === 'decimal' ? { version: 2, count, valueScheme, decimals: (flags >>> 2) & 7 } : { version: 2, count, valueScheme };
}

/** Checks length and checksum and loads the body (without the CRC) into the shared reader. */
function openVersion2(data: Uint8Array): BitReader {
  if (data.length < 6) throw corrupt('truncated chunk');
  const body = data.length - 4;
  const stored = ((data[body]! << 24) | (data[body + 1]! << 16) | (data[body + 2]! << 8) | data[body + 3]!) >>> 0;
  if (crc32(data.subarray(0, body)) !== stored) throw corrupt('checksum mismatch');
  reader.reset(data, body);
  return reader;
}

function decodeVersion2(data: Uint8Array): SampleColumns {
  const r = openVersion2(data);
  r.skip(8); // version
  const n = readVarint(r, MAX_CHUNK_SAMPLES);
  if (n === 0) {
    finishVersion2(r);
    return emptyColumns();
  }
  const flags = r.readBits(8);
  const scheme = flags & 3;
  const decimals = (flags >>> 2) & 7;
  if (scheme === 3 || flags >>> 5 !== 0 || decimals > MAX_DECIMALS || (scheme !== SCHEME_CODE.decimal && decimals !== 0)) {
    throw corrupt('bad flags');
  }
  const first = readZigzagVarint(r);
  if (!Number.isSafeInteger(first)) throw corrupt('first timestamp out of range');
  const quality = new Uint8Array(n);
  readQualityRuns(r, quality, n);
  const nullRuns = readNullRuns(r, n);
  const valueCount = nullRuns.valueCount;
  if ((valueCount === 0) !== (scheme === SCHEME_CODE.none)) throw corrupt('value scheme does not match the nulls');

  const ts = new Float64Array(n);
  readStream(r, ts, n, first, true);
  const value = new Float64Array(n);
  if (scheme === SCHEME_CODE.decimal) {
    const k0 = readSvar(r);
    if (!(k0 < MAX_DECIMAL_K && k0 > -MAX_DECIMAL_K)) throw corrupt('decimal mantissa out of range');
    readStream(r, value, valueCount, k0, false);
    const p = POW10[decimals]!;
    if (p !== 1) for (let i = 0; i < valueCount; i++) value[i] = value[i]! / p;
  } else if (scheme === SCHEME_CODE.xor) {
    readXorValues(r, value, valueCount);
  }
  finishVersion2(r);
  spreadAroundNulls(value, n, valueCount, nullRuns.runs);
  return { count: n, ts, value, quality };
}

/** The rest of the byte must be zero padding and the CRC must follow at once. */
function finishVersion2(r: BitReader): void {
  if (r.overrun) throw corrupt('truncated chunk');
  const pad = (8 - (r.pos & 7)) & 7;
  if (r.readBits(pad) !== 0 || r.pos !== r.bitLimit) throw corrupt('unexpected bytes after the samples');
}

function emptyColumns(): SampleColumns {
  return { count: 0, ts: new Float64Array(0), value: new Float64Array(0), quality: new Uint8Array(0) };
}

function readGamma(r: BitReader): number {
  const zeros = Math.clz32(r.peek32());
  if (zeros > 30) throw corrupt('bad run length');
  r.skip(zeros);
  return r.readBits(zeros + 1);
}

function readQualityRuns(r: BitReader, quality: Uint8Array, n: number): void {
  const runs = readGamma(r);
  if (runs > n) throw corrupt('more quality runs than samples');
  let at = 0;
  for (let j = 0; j < runs; j++) {
    if (r.overrun) throw corrupt('truncated quality runs');
    const q = r.readBits(8);
    const length = j < runs - 1 ? readGamma(r) : n - at;
    if (length < 1 || at + length > n) throw corrupt('quality runs do not add up to the count');
    quality.fill(q, at, at + length);
    at += length;
  }
}

/** Reads the null runs into `runLengths`; returns how many runs and how many non-null values. */
function readNullRuns(r: BitReader, n: number): { runs: number; valueCount: number } {
  const runs = readGamma(r);
  if (runs > n + 1) throw corrupt('more null runs than samples');
  if (runLengths.length < runs) runLengths = new Int32Array(Math.max(runs, runLengths.length * 2));
  let at = 0;
  let valueCount = 0;
  for (let j = 0; j < runs; j++) {
    if (r.overrun) throw corrupt('truncated null runs');
    const length = j === runs - 1 ? n - at : j === 0 ? readGamma(r) - 1 : readGamma(r);
    if (length < (j === 0 ? 0 : 1) || at + length > n) throw corrupt('null runs do not add up to the count');
    runLengths[j] = length;
    if (j % 2 === 0) valueCount += length;
    at += length;
  }
  return { runs, valueCount };
}

/** Moves the valueCount decoded values from the front of `value` to their places, NaN in the gaps. */
function spreadAroundNulls(value: Float64Array, n: number, valueCount: number, runs: number): void {
  if (runs === 1) return;
  let src = valueCount;
  let dst = n;
  for (let j = runs - 1; j >= 0; j--) {
    const length = runLengths[j]!;
    if (j % 2 === 1) {
      value.fill(NaN, dst - length, dst);
    } else {
      value.copyWithin(dst - length, src - length, src);
      src -= length;
    }
    dst -= length;
  }
}

/**
 * Decodes an integer stream of m values into out[0..m) (x0 given). `time` selects the checks: a
 * timestamp never goes backwards and stays a safe integer; a mantissa stays below 2^52.
 */
function readStream(r: BitReader, out: Float64Array, m: number, x0: number, time: boolean): void {
  out[0] = x0;
  if (m < 2) return;
  const order2 = r.readBits(1) === 1;
  const period = order2 ? 0 : readSvar(r);
  if (!(period < EXACT_DELTA && period > -EXACT_DELTA)) throw corrupt('bad stream period');
  const n = r.readBits(3);
  const escape = r.readBits(1) === 1;
  const zeroRuns = r.readBits(1) === 1;
  const normal = n - (escape ? 1 : 0);
  if (n === 0 || n > MAX_CLASSES || (zeroRuns && normal === 0)) throw corrupt('bad class count');
  const widths = new Int32Array(MAX_CLASSES);
  let minBits = escape ? prefixLength(n - 1, n) + ESCAPE_BITS : Infinity;
  for (let j = 0; j < normal; j++) {
    const width = r.readBits(6);
    if (width > MAX_CODE_BITS || (j > 0 && width <= widths[j - 1]!) || (zeroRuns && j === 0 && width !== 0)) throw corrupt('bad class widths');
    widths[j] = width;
    minBits = Math.min(minBits, prefixLength(j, n) + width);
  }
  // A count that the remaining bytes cannot hold is refused before the loop runs (a run of zero
  // residuals may cover any number of values).
  if (!zeroRuns && (m - 1) * minBits > r.remaining) throw corrupt('count larger than the chunk');
  const last = n - 1;
  const escapeClass = escape ? last : -1;
  const limit = time ? Number.MAX_SAFE_INTEGER : MAX_DECIMAL_K - 1;
  let prev = x0;
  let prevDelta = 0;
  for (let i = 1; i < m; i++) {
    if (r.pos > r.bitLimit) throw corrupt('truncated stream');
    const peek = r.peek32();
    let cls = Math.clz32(~peek); // leading one-bits
    if (cls > last) cls = last;
    const plen = cls < last ? cls + 1 : last;
    if (cls === escapeClass) {
      r.skip(plen);
      const negative = r.readBits(1) === 1;
      const magnitude = r.readWide(53);
      if (negative && magnitude === 0) throw corrupt('negative zero');
      const x = negative ? -magnitude : magnitude;
      if (time ? x < prev : x > limit || x < -limit) throw corrupt('escaped value out of range');
      const delta = x - prev;
      prevDelta = delta < EXACT_DELTA && delta > -EXACT_DELTA ? delta : 0;
      out[i] = prev = x;
      continue;
    }
    const width = widths[cls]!;
    let residual = 0;
    let repeat = 1;
    if (zeroRuns && cls === 0) {
      r.skip(plen);
      repeat = readGamma(r);
      if (repeat > m - i) throw corrupt('zero run beyond the count');
    } else if (plen + width <= 32) {
      const code = width === 0 ? 0 : (peek << plen) >>> (32 - width);
      r.skip(plen + width);
      residual = code & 1 ? -(code >>> 1) - 1 : code >>> 1;
    } else {
      r.skip(plen);
      const magnitude = r.readWide(width - 1);
      residual = r.readBits(1) === 1 ? -magnitude - 1 : magnitude;
    }
    const delta = residual + (order2 ? prevDelta : period);
    if (!(delta < EXACT_DELTA && delta > -EXACT_DELTA) || (time && delta < 0)) throw corrupt('delta out of range');
    prevDelta = delta;
    // A run repeats the same delta; checking its last value covers the ones between.
    const lastX = prev + delta * repeat;
    if (lastX > limit || lastX < -limit) throw corrupt('value out of range');
    for (let t = 0; t < repeat; t++) out[i + t] = prev += delta;
    i += repeat - 1;
  }
}

function readXorValues(r: BitReader, value: Float64Array, m: number): void {
  const bits = new Uint32Array(value.buffer, value.byteOffset, value.length * 2);
  let ph = r.readBits(32);
  let pl = r.readBits(32);
  if (isNaNBits(ph, pl)) throw corrupt('NaN in the value stream');
  bits[HI] = ph;
  bits[LO] = pl;
  let windowLead = -1;
  let windowTrail = 0;
  let windowBits = 0;
  for (let i = 1; i < m; i++) {
    if (r.pos > r.bitLimit) throw corrupt('truncated values');
    const peek = r.peek32();
    if (peek >>> 31 === 0) {
      r.skip(1);
    } else {
      let trail: number;
      let significant: number;
      if (peek >>> 30 === 0b10) {
        if (windowLead < 0) throw corrupt('XOR window used before it was set');
        r.skip(2);
        trail = windowTrail;
        significant = windowBits;
      } else {
        const lead = (peek >>> 25) & 31;
        significant = (peek >>> 19) & 63 || 64;
        trail = 64 - lead - significant;
        if (trail < 0) throw corrupt('bad XOR window');
        r.skip(13);
        windowLead = lead;
        windowTrail = trail;
        windowBits = significant;
      }
      // Read the significant bits and shift them left by `trail` into (xh:xl).
      let xh: number;
      let xl: number;
      if (significant <= 32) {
        const v = r.readBits(significant);
        if (trail >= 32) {
          xh = v << (trail - 32);
          xl = 0;
        } else {
          xl = v << trail;
          xh = trail === 0 ? 0 : v >>> (32 - trail);
        }
      } else {
        const hi = r.readBits(significant - 32);
        const lo = r.readBits(32);
        xh = trail === 0 ? hi : (hi << trail) | (lo >>> (32 - trail));
        xl = lo << trail;
      }
      ph = (ph ^ xh) >>> 0;
      pl = (pl ^ xl) >>> 0;
      if (isNaNBits(ph, pl)) throw corrupt('NaN in the value stream');
    }
    bits[2 * i + HI] = ph;
    bits[2 * i + LO] = pl;
  }
}

/** A NaN bit pattern: all exponent bits set and a non-zero fraction (±Infinity is a value). */
function isNaNBits(hi: number, lo: number): boolean {
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0;
}

function readVarint(r: BitReader, max: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const b = r.readBits(8);
    result += (b & 127) * scale;
    if (b < 128) {
      if (result > max) throw corrupt(`integer ${result} above ${max}`);
      return result;
    }
    scale *= 128;
  }
  throw corrupt('varint too long');
}

function readZigzagVarint(r: BitReader): number {
  const first = r.readBits(8);
  const low = (first & 127) >>> 1;
  const high = first & 128 ? readVarint(r, 2 ** 47) : 0;
  const m = high * 64 + low;
  return first & 1 ? -m - 1 : m;
}

function readSvar(r: BitReader): number {
  const len = r.readBits(6);
  if (len > 53) throw corrupt('bad integer length');
  const m = r.readWide(len);
  return len > 0 && r.readBits(1) === 1 ? -m : m;
}

// ───────────────────────────── version 1 ─────────────────────────────

/**
 * Version 1 (deflate of: varint version, count, zigzag first ts, ts deltas, qualities, a null
 * flag and bitmap, then each non-null value's 8 bytes XOR the previous non-null value's, per
 * 32-bit word). Decoded here with the original logic plus bounds on everything a damaged blob
 * could inflate: the output size, the count, the integers and the qualities.
 */
function decodeVersion1(blob: Uint8Array): SampleColumns {
  let raw: Buffer;
  try {
    // Each sample takes at most 10 + 2 + 8 bytes inflated, plus the bitmap.
    raw = inflateRawSync(blob, { maxOutputLength: MAX_CHUNK_SAMPLES * 21 + 64 });
  } catch {
    throw corrupt('bad deflate stream');
  }
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (pos >= raw.length || scale > 2 ** 56) throw corrupt('truncated varint');
      const b = raw[pos++]!;
      result += (b & 127) * scale;
      if (b < 128) return result;
      scale *= 128;
    }
  };
  const version = varint();
  if (version !== VERSION_1) throw corrupt(`unknown version ${version}`);
  const n = varint();
  // Each sample takes at least two bytes inflated (a delta and a quality).
  if (n > MAX_CHUNK_SAMPLES || n * 2 > raw.length) throw corrupt('count larger than the chunk');
  const ts = new Float64Array(n);
  const z = varint();
  let t = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  if (n > 0) ts[0] = t;
  for (let i = 1; i < n; i++) ts[i] = t += varint();
  if (n > 0 && !(Number.isSafeInteger(ts[0]) && Number.isSafeInteger(t))) throw corrupt('timestamp out of range');
  const quality = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const q = varint();
    if (q > 255) throw corrupt('quality above 255');
    quality[i] = q;
  }
  const hasNull = varint();
  if (hasNull > 1) throw corrupt('bad null flag');
  const bitmapBytes = hasNull === 1 ? Math.ceil(n / 8) : 0;
  if (pos + bitmapBytes > raw.length) throw corrupt('truncated chunk');
  const bitmap = raw.subarray(pos, pos + bitmapBytes);
  pos += bitmapBytes;
  const isNull = (i: number): boolean => bitmapBytes > 0 && (bitmap[i >> 3]! & (1 << (i & 7))) !== 0;
  let nonNull = n;
  for (let i = 0; i < n; i++) if (isNull(i)) nonNull--;
  if (pos + nonNull * 8 !== raw.length) throw corrupt('value bytes do not match the count');
  const words = new Uint32Array(nonNull * 2);
  new Uint8Array(words.buffer).set(raw.subarray(pos, pos + nonNull * 8));
  for (let i = 2; i < words.length; i++) words[i]! ^= words[i - 2]!;
  const floats = new Float64Array(words.buffer);
  const value = new Float64Array(n);
  for (let i = 0, k = 0; i < n; i++) value[i] = isNull(i) ? NaN : floats[k++]!;
  return { count: n, ts, value, quality };
}

// ───────────────────────────── summaries ─────────────────────────────

/** Summary of samples [start, end) of cols, computed without encoding. */
export function summarize(cols: SampleColumns, start = 0, end = cols.count): ChunkSummary {
  if (!(start >= 0 && end >= start && end <= cols.count)) throw new RangeError(`summarize: samples [${start}, ${end}) are not within the ${cols.count} columns`);
  const value = cols.value;
  let valueCount = 0;
  let min = NaN;
  let max = NaN;
  let sum = NaN;
  for (let i = start; i < end; i++) {
    const v = value[i]!;
    if (v !== v) continue;
    if (valueCount++ === 0) {
      min = max = sum = v;
    } else {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
  }
  const count = end - start;
  return {
    count,
    valueCount,
    min,
    max,
    sum,
    firstTs: count > 0 ? cols.ts[start]! : NaN,
    lastTs: count > 0 ? cols.ts[end - 1]! : NaN,
  };
}
