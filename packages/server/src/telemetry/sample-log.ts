/**
 * One record of the sample log: every sample one append stored, in columns. The log is the
 * store's write-ahead log (as Prometheus keeps a WAL beside its in-memory head): an append
 * writes ONE row however many samples it carries, so the durable write costs a blob, not a
 * B-tree insert per sample. Samples leave the log when their point's head is sealed into a chunk
 * (or spilled, for points that report rarely) and the log is truncated below the oldest head.
 *
 * Layout (little-endian): u32 count, then count × u32 point id, count × f64 ts,
 * count × f64 value (NaN: null), count × u8 quality.
 */
import { TelemetryError } from './telemetry-error.ts';

export interface LogColumns {
  count: number;
  pointId: Uint32Array;
  ts: Float64Array;
  value: Float64Array;
  quality: Uint8Array;
}

/** Accumulates the samples of one append, then encodes them as one log record. */
export class LogRecordBuilder {
  count = 0;
  private pointId = new Uint32Array(1024);
  private ts = new Float64Array(1024);
  private value = new Float64Array(1024);
  private quality = new Uint8Array(1024);

  reset(): void {
    this.count = 0;
  }

  push(pointId: number, ts: number, value: number, quality: number): void {
    if (this.count === this.ts.length) this.grow();
    const i = this.count++;
    this.pointId[i] = pointId;
    this.ts[i] = ts;
    this.value[i] = value;
    this.quality[i] = quality;
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const p = new Uint32Array(n); p.set(this.pointId); this.pointId = p;
    const t = new Float64Array(n); t.set(this.ts); this.ts = t;
    const v = new Float64Array(n); v.set(this.value); this.value = v;
    const q = new Uint8Array(n); q.set(this.quality); this.quality = q;
  }

  /** The columns as they are now (views: valid until the next push or reset). */
  columns(): LogColumns {
    const n = this.count;
    return { count: n, pointId: this.pointId.subarray(0, n), ts: this.ts.subarray(0, n), value: this.value.subarray(0, n), quality: this.quality.subarray(0, n) };
  }

  encode(): Buffer {
    const n = this.count;
    const out = Buffer.allocUnsafe(4 + n * 21);
    out.writeUInt32LE(n, 0);
    // Column copies through byte views: one memcpy each.
    let at = 4;
    out.set(new Uint8Array(this.pointId.buffer, 0, n * 4), at); at += n * 4;
    out.set(new Uint8Array(this.ts.buffer, 0, n * 8), at); at += n * 8;
    out.set(new Uint8Array(this.value.buffer, 0, n * 8), at); at += n * 8;
    out.set(this.quality.subarray(0, n), at);
    return out;
  }
}

/** Decodes a log record (a copy: the columns are aligned, whatever the blob's alignment). */
export function decodeLogRecord(data: Uint8Array): LogColumns {
  if (data.length < 4) throw new TelemetryError('telemetry_log_corrupt', 'sample log record shorter than its header');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = view.getUint32(0, true);
  if (data.length !== 4 + n * 21) {
    throw new TelemetryError('telemetry_log_corrupt', `sample log record of ${data.length} bytes cannot hold ${n} samples`);
  }
  // Uint8Array's slice copies (Buffer's would only make a view, at an unaligned offset).
  const bytes = (offset: number, length: number): Uint8Array => Uint8Array.prototype.slice.call(data, offset, offset + length);
  let at = 4;
  const pointId = new Uint32Array(bytes(at, n * 4).buffer); at += n * 4;
  const ts = new Float64Array(bytes(at, n * 8).buffer); at += n * 8;
  const value = new Float64Array(bytes(at, n * 8).buffer); at += n * 8;
  const quality = bytes(at, n);
  return { count: n, pointId, ts, value, quality };
}
