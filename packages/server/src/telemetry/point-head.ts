/**
 * The head of one point: its samples not yet sealed into a chunk, in memory (durable in the
 * sample log or, for points that report rarely, in the spill table). Reads of recent data are
 * answered from here, so they cost nothing however fast the store is being written.
 */
import type { SampleColumns } from './codec/chunk-codec.ts';
import type { LatestValue, PointRef } from './telemetry-store.ts';

const INITIAL_CAPACITY = 32;

/**
 * One point as the store keeps it in memory: its reference, its latest value, and its head. One
 * object per point, reached straight from the append, so the hot path looks nothing up twice.
 */
export class PointHead {
  readonly pointId: number;
  count = 0;
  ts = new Float64Array(INITIAL_CAPACITY);
  value = new Float64Array(INITIAL_CAPACITY);
  quality = new Uint8Array(INITIAL_CAPACITY);
  minTs = Infinity;
  maxTs = -Infinity;
  /** False once a sample arrived out of time order: sort before sealing or reading. */
  sorted = true;
  /**
   * Lowest sample-log row holding a sample of this head that is not also in the spill table
   * (Infinity: none). The log cannot be truncated above it.
   */
  firstLogId = Infinity;
  /** The head's samples up to this log row are in the spill table (0: nothing spilled). */
  spilledThrough = 0;
  /** When the head's oldest unspilled sample arrived (server clock), for the spill policy. */
  firstArrivalAt = Infinity;

  /** The newest sample by time (value null for a failed read), and whether the table lags it. */
  latest: LatestValue | undefined;
  latestDirty = false;

  constructor(readonly ref: PointRef) {
    this.pointId = ref.id;
  }

  /** Keeps the sample as the latest value if it is not older; returns true when the flush must write it. */
  noteLatest(ts: number, value: number, quality: number): boolean {
    const cur = this.latest;
    if (cur !== undefined && ts < cur.ts) return false;
    const v = Number.isNaN(value) ? null : value;
    if (cur === undefined) this.latest = { ts, value: v, quality };
    else {
      cur.ts = ts;
      cur.value = v;
      cur.quality = quality;
    }
    if (this.latestDirty) return false;
    this.latestDirty = true;
    return true;
  }

  add(ts: number, value: number, quality: number, logId: number, arrivedAt: number): void {
    if (this.count === this.ts.length) this.grow(this.count * 2);
    const i = this.count++;
    this.ts[i] = ts;
    this.value[i] = value;
    this.quality[i] = quality;
    if (ts < this.maxTs) this.sorted = false;
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
    if (logId < this.firstLogId) this.firstLogId = logId;
    if (arrivedAt < this.firstArrivalAt) this.firstArrivalAt = arrivedAt;
  }

  /** Replaces the contents with decoded columns (a spill read back at start). */
  load(cols: SampleColumns): void {
    this.clear();
    this.grow(Math.max(INITIAL_CAPACITY, cols.count));
    this.ts.set(cols.ts.subarray(0, cols.count));
    this.value.set(cols.value.subarray(0, cols.count));
    this.quality.set(cols.quality.subarray(0, cols.count));
    this.count = cols.count;
    for (let i = 0; i < cols.count; i++) {
      const t = cols.ts[i]!;
      if (t < this.maxTs) this.sorted = false;
      if (t < this.minTs) this.minTs = t;
      if (t > this.maxTs) this.maxTs = t;
    }
  }

  private grow(capacity: number): void {
    if (capacity <= this.ts.length) return;
    const t = new Float64Array(capacity); t.set(this.ts.subarray(0, this.count)); this.ts = t;
    const v = new Float64Array(capacity); v.set(this.value.subarray(0, this.count)); this.value = v;
    const q = new Uint8Array(capacity); q.set(this.quality.subarray(0, this.count)); this.quality = q;
  }

  /** Sorts by time, keeping arrival order among equal times (a stable sort). */
  sort(): void {
    if (this.sorted) return;
    const n = this.count;
    const order = Array.from({ length: n }, (_, i) => i);
    const ts = this.ts;
    order.sort((a, b) => ts[a]! - ts[b]! || a - b);
    const t = new Float64Array(this.ts.length);
    const v = new Float64Array(this.ts.length);
    const q = new Uint8Array(this.ts.length);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      t[k] = ts[i]!;
      v[k] = this.value[i]!;
      q[k] = this.quality[i]!;
    }
    this.ts = t;
    this.value = v;
    this.quality = q;
    this.sorted = true;
  }

  /** The head as sorted columns (views into the head: valid until it next changes). */
  columns(): SampleColumns {
    this.sort();
    return { count: this.count, ts: this.ts.subarray(0, this.count), value: this.value.subarray(0, this.count), quality: this.quality.subarray(0, this.count) };
  }

  /** A copy of the samples with from <= ts <= to, sorted: what a reader may take elsewhere. */
  snapshot(from: number, to: number): SampleColumns {
    this.sort();
    let lo = 0;
    while (lo < this.count && this.ts[lo]! < from) lo++;
    let hi = lo;
    while (hi < this.count && this.ts[hi]! <= to) hi++;
    return {
      count: hi - lo,
      ts: this.ts.slice(lo, hi),
      value: this.value.slice(lo, hi),
      quality: this.quality.slice(lo, hi),
    };
  }

  clear(): void {
    this.count = 0;
    this.minTs = Infinity;
    this.maxTs = -Infinity;
    this.sorted = true;
    this.firstLogId = Infinity;
    this.spilledThrough = 0;
    this.firstArrivalAt = Infinity;
    if (this.ts.length > 4096) {
      this.ts = new Float64Array(INITIAL_CAPACITY);
      this.value = new Float64Array(INITIAL_CAPACITY);
      this.quality = new Uint8Array(INITIAL_CAPACITY);
    }
  }
}
