/**
 * bench/codec: the per-point chunk codec (version 2) beside the version-1 deflate codec it
 * replaces and the raw 17 bytes of a sample (8 ts + 8 value + 1 quality), in the same run, on one
 * core. Realistic plant shapes first, then the worst case:
 *
 *   analog    1 Hz poll with ±5 ms jitter, a 0.1 °C register (slow drift + flicker), 0.05% failed
 *             reads (null, quality 0) — what most points look like
 *   door      1 Hz poll with ±5 ms jitter, a boolean contact changing a few times an hour
 *   noisy     1 Hz poll with ±5 ms jitter, full-precision doubles (every mantissa bit random)
 *   events    irregular timestamps (exponential gaps, mean 30 s, ms resolution), 0.01 values
 *   constant  a setpoint polled every 10 s without jitter (the best case)
 *
 * Each shape is one point's 86,400 samples, cut into chunks of 120 and of 1,024 samples. Encode
 * and decode rates are samples per second over all chunks (median of the timed rounds); the last
 * column is the time to decode the whole series, i.e. a 24 h read of one 1 Hz point. Version 1 is
 * encoded by its original encoder (kept as a test fixture) and decoded by the version-1 path of
 * decodeChunk (the old decoder's logic, returning typed columns).
 *
 *   node --import tsx bench/codec/run.ts [--samples 86400] [--min-ms 300] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { decodeChunk, describeChunk, encodeChunk, type SampleColumns } from '@shellguard/server/testing';
import { encodeChunkV1, toColumnsV1, type ChunkColumnsV1 } from '../../packages/server/test/telemetry/codec/v1-chunk-encoder.ts';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '86400' },
    'min-ms': { type: 'string', default: '300' },
    rounds: { type: 'string', default: '5' },
  },
});
const samples = Number(args.samples);
const minMs = Number(args['min-ms']);
const rounds = Number(args.rounds);
const RAW_BYTES = 17;
const T0 = 1_750_000_000_000;

/** Deterministic uniform [0, 1) (mulberry32): every run measures the same bytes. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The guardian's scaling of a register: Number.parseFloat((raw * scale).toPrecision(12)). */
const fromRegister = (raw: number, scale: number): number => Number.parseFloat((raw * scale).toPrecision(12));

function columns(n: number, fill: (i: number, c: SampleColumns) => void): SampleColumns {
  const c: SampleColumns = { count: n, ts: new Float64Array(n), value: new Float64Array(n), quality: new Uint8Array(n).fill(192) };
  for (let i = 0; i < n; i++) fill(i, c);
  return c;
}

const jittered = (random: () => number, i: number): number => T0 + i * 1000 + Math.round((random() * 2 - 1) * 5);

const shapes: { name: string; cols: SampleColumns }[] = [
  {
    name: 'analog (1 Hz ±5 ms, 0.1 °C register)',
    cols: (() => {
      const random = seeded(1);
      return columns(samples, (i, c) => {
        c.ts[i] = jittered(random, i);
        const failed = random() < 0.0005;
        const tenths = Math.round(220 + 30 * Math.sin((2 * Math.PI * i) / 86_400) + 8 * Math.sin((2 * Math.PI * i) / 900) + (random() - 0.5) * 2);
        c.value[i] = failed ? NaN : fromRegister(tenths, 0.1);
        c.quality[i] = failed ? 0 : 192;
      });
    })(),
  },
  {
    name: 'door contact (1 Hz ±5 ms, boolean)',
    cols: (() => {
      const random = seeded(2);
      let state = 0;
      return columns(samples, (i, c) => {
        c.ts[i] = jittered(random, i);
        if (random() < 1 / 600) state = 1 - state;
        c.value[i] = state;
      });
    })(),
  },
  {
    name: 'noisy doubles (1 Hz ±5 ms, full precision)',
    cols: (() => {
      const random = seeded(3);
      return columns(samples, (i, c) => {
        c.ts[i] = jittered(random, i);
        c.value[i] = 20 + random() + random() * 2 ** -32;
      });
    })(),
  },
  {
    name: 'events (irregular, mean 30 s, 0.01 values)',
    cols: (() => {
      const random = seeded(4);
      let t = T0;
      let hundredths = 50_000;
      return columns(samples, (i, c) => {
        t += Math.max(1, Math.round(-30_000 * Math.log(1 - random())));
        c.ts[i] = t;
        hundredths += Math.round((random() - 0.5) * 400);
        c.value[i] = fromRegister(hundredths, 0.01);
      });
    })(),
  },
  {
    name: 'constant setpoint (10 s, no jitter)',
    cols: columns(samples, (i, c) => {
      c.ts[i] = T0 + i * 10_000;
      c.value[i] = 21.5;
    }),
  },
];

/** Median samples/s of `fn` (which handles `work` samples) over timed rounds of at least minMs each. */
function rate(work: number, fn: () => void): number {
  fn(); // warm-up
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let reps = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      fn();
      reps++;
      elapsed = performance.now() - start;
    } while (elapsed < minMs);
    perRound.push((work * reps) / (elapsed / 1000));
  }
  perRound.sort((a, b) => a - b);
  return perRound[perRound.length >> 1]!;
}

const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
const rows: string[] = [];
for (const { name, cols } of shapes) {
  for (const size of [120, 1024]) {
    const ranges: [number, number][] = [];
    for (let s = 0; s < cols.count; s += size) ranges.push([s, Math.min(cols.count, s + size)]);
    const v2 = ranges.map(([s, e]) => encodeChunk(cols, s, e));
    const v1Input: ChunkColumnsV1[] = ranges.map(([s, e]) => toColumnsV1(cols, s, e));
    const v1 = v1Input.map((c) => encodeChunkV1(c));
    const bytes = (chunks: Uint8Array[]): number => chunks.reduce((sum, c) => sum + c.length, 0) / cols.count;
    const schemes = [...new Set(v2.map((c) => describeChunk(c).valueScheme))].join('+');

    const v2Encode = rate(cols.count, () => {
      for (const [s, e] of ranges) encodeChunk(cols, s, e);
    });
    const v2Decode = rate(cols.count, () => {
      for (const c of v2) decodeChunk(c);
    });
    const v1Encode = rate(cols.count, () => {
      for (const c of v1Input) encodeChunkV1(c);
    });
    const v1Decode = rate(cols.count, () => {
      for (const c of v1) decodeChunk(c);
    });
    rows.push(`| ${name} | ${size} | ${schemes} | **${bytes(v2).toFixed(3)}** | ${bytes(v1).toFixed(3)} | ${RAW_BYTES} | ${fmt(v2Encode)} | ${fmt(v2Decode)} | ${fmt(v1Encode)} | ${fmt(v1Decode)} | ${((cols.count / v2Decode) * 1000).toFixed(2)} |`);
    console.error(`done: ${name}, ${size}`);
  }
}

console.log(`bench/codec — ${samples.toLocaleString('en-US')} samples per shape, Node ${process.version}, one core; rates are samples/s (median of ${rounds} rounds ≥ ${minMs} ms)\n`);
console.log('| shape | chunk | v2 values | v2 B/sample | v1 (deflate) B/sample | raw B/sample | v2 encode | v2 decode | v1 encode | v1 decode | v2 decode of all samples (ms) |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
