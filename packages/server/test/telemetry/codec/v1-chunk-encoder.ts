/**
 * Test fixture: the version-1 chunk encoder exactly as the store wrote it before version 2
 * (packages/server/src/telemetry/chunk-codec.ts at commit 2c7abfa), kept so tests and the
 * benchmark can make real version-1 chunks after that module is gone. Do not "improve" it: its
 * output is what old databases hold.
 *
 * Layout before deflate (all integers are unsigned LEB128 varints):
 *   version(=1) count zigzag(ts[0]) delta(ts[1]-ts[0]) ... quality[0..count) hasNull [nullBitmap]
 *   then the 8 bytes of each non-null value XOR the previous non-null value.
 */
import { deflateRawSync } from 'node:zlib';
import type { SampleColumns } from '../../../src/telemetry/codec/chunk-codec.ts';

const VERSION = 1;

export interface ChunkColumnsV1 {
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

const zigzag = (v: number): number => (v >= 0 ? v * 2 : -v * 2 - 1);

/** The version-1 encoder, unchanged. */
export function encodeChunkV1(cols: ChunkColumnsV1): Buffer {
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

/** Samples [start, end) of columns in the version-1 encoder's input shape (NaN → null). */
export function toColumnsV1(cols: SampleColumns, start = 0, end = cols.count): ChunkColumnsV1 {
  const ts: number[] = [];
  const value: (number | null)[] = [];
  const quality: number[] = [];
  for (let i = start; i < end; i++) {
    ts.push(cols.ts[i]!);
    value.push(Number.isNaN(cols.value[i]!) ? null : cols.value[i]!);
    quality.push(cols.quality[i]!);
  }
  return { ts, value, quality };
}
