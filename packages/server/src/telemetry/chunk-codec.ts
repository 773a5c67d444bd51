/**
 * Encoding of one per-point chunk: the samples of one point over a span of time, sorted by ts.
 *
 * Layout before deflate (all integers are unsigned LEB128 varints):
 *   version(=1) count zigzag(ts[0]) delta(ts[1]-ts[0]) ... quality[0..count) hasNull [nullBitmap]
 *   then the 8 bytes of each non-null value XOR the previous non-null value (Gorilla-style, so a
 *   slowly changing value turns into runs of zero bytes, which deflate removes).
 * Timestamps are sorted, so deltas are never negative.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { TelemetryError } from './telemetry-error.ts';

const VERSION = 1;

export interface ChunkColumns {
  ts: number[];
  value: (number | null)[];
  quality: number[];
}

class ByteWriter {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(v: number): void {
    this.ensure(10);
    // Arithmetic rather than bit operators: epoch milliseconds do not fit in 32 bits.
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

class ByteReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.buf.length || scale > 2 ** 63) throw corrupt('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 127) * scale;
      if (b < 128) return result;
      scale *= 128;
    }
  }
  take(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw corrupt('truncated chunk');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function corrupt(reason: string): TelemetryError {
  return new TelemetryError('telemetry_chunk_corrupt', `a telemetry chunk could not be decoded: ${reason}`);
}

const zigzag = (v: number): number => (v >= 0 ? v * 2 : -v * 2 - 1);
const unzigzag = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/** Encodes samples already sorted by ts (not checked here: the compactor sorts them). */
export function encodeChunk(cols: ChunkColumns): Buffer {
  const n = cols.ts.length;
  const w = new ByteWriter(16 + n * 12);
  w.varint(VERSION);
  w.varint(n);
  let prev = cols.ts[0] ?? 0;
  w.varint(zigzag(prev));
  for (let i = 1; i < n; i++) {
    const t = cols.ts[i]!;
    w.varint(t - prev);
    prev = t;
  }
  for (let i = 0; i < n; i++) w.varint(cols.quality[i]!);
  let nulls = 0;
  for (let i = 0; i < n; i++) if (cols.value[i] === null) nulls++;
  w.varint(nulls > 0 ? 1 : 0);
  if (nulls > 0) {
    const bitmap = new Uint8Array(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) if (cols.value[i] === null) bitmap[i >> 3]! |= 1 << (i & 7);
    w.bytes(bitmap);
  }
  const values = new Float64Array(n - nulls);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = cols.value[i];
    if (v !== null && v !== undefined) values[k++] = v;
  }
  const words = new Uint32Array(values.buffer);
  for (let i = words.length - 1; i >= 2; i--) words[i]! ^= words[i - 2]!;
  w.bytes(new Uint8Array(values.buffer));
  return deflateRawSync(w.buf.subarray(0, w.pos), { level: 3 });
}

export function decodeChunk(blob: Buffer): ChunkColumns {
  let raw: Buffer;
  try {
    raw = inflateRawSync(blob);
  } catch {
    throw corrupt('bad deflate stream');
  }
  const r = new ByteReader(raw);
  const version = r.varint();
  if (version !== VERSION) throw corrupt(`unknown version ${version}`);
  const n = r.varint();
  if (n > raw.length * 8) throw corrupt('count larger than the chunk');
  const ts = new Array<number>(n);
  let t = unzigzag(r.varint());
  if (n > 0) ts[0] = t;
  for (let i = 1; i < n; i++) ts[i] = t += r.varint();
  const quality = new Array<number>(n);
  for (let i = 0; i < n; i++) quality[i] = r.varint();
  const hasNull = r.varint() === 1;
  const bitmap = hasNull ? r.take(Math.ceil(n / 8)) : undefined;
  let nonNull = n;
  if (bitmap) for (let i = 0; i < n; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) nonNull--;
  const bytes = r.take(nonNull * 8);
  const words = new Uint32Array(nonNull * 2);
  new Uint8Array(words.buffer).set(bytes);
  for (let i = 2; i < words.length; i++) words[i]! ^= words[i - 2]!;
  const floats = new Float64Array(words.buffer);
  const value = new Array<number | null>(n);
  let k = 0;
  for (let i = 0; i < n; i++) value[i] = bitmap && bitmap[i >> 3]! & (1 << (i & 7)) ? null : floats[k++]!;
  return { ts, value, quality };
}
