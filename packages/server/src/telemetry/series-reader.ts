/**
 * Reading one point's series from the database: its sealed chunks in the range, merged with the
 * snapshot of its head that the writer took, raw or in buckets. Runs in a read worker on its own
 * read-only connection (WAL lets it read while the writer writes), or in the writer's process for
 * an in-memory database.
 *
 * Consistency: the writer takes the head snapshot and the highest chunk id together, and defers
 * sealing this point until the read is done; so chunks up to that id plus the snapshot hold every
 * sample exactly once, and the roll-ups (written in the same transaction as their chunks) agree.
 *
 * Buckets come from the cheapest source that is exact: a whole hour or minute inside the range
 * from the roll-up tables, a chunk that lies inside one bucket from its summary, and only the rest
 * from decoded samples.
 *
 * The merging (RawCollector, planBuckets, collectBuckets) is the same for both engines; only
 * SeriesReader, which fetches through better-sqlite3 statements, is SQLite's. The PostgreSQL store
 * fetches the same rows in one snapshot and hands them to the same functions.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../db/database.ts';
import { decodeChunk, type SampleColumns } from './codec/chunk-codec.ts';
import { MAX_CHUNK_SPAN_MS, ROLLUP_RESOLUTIONS, rollupTable } from './layout.ts';

export interface BucketColumns {
  count: number;
  ts: Float64Array;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
  n: Float64Array;
}

const EMPTY: SampleColumns = { count: 0, ts: new Float64Array(0), value: new Float64Array(0), quality: new Uint8Array(0) };

/** Accumulates buckets keyed by their start. */
class BucketAccumulator {
  private readonly map = new Map<number, { min: number; max: number; sum: number; n: number }>();

  constructor(private readonly bucketMs: number) {}

  sample(ts: number, value: number): void {
    if (Number.isNaN(value)) return;
    const start = Math.floor(ts / this.bucketMs) * this.bucketMs;
    this.merge(start, value, value, value, 1);
  }

  merge(start: number, min: number, max: number, sum: number, n: number): void {
    if (n === 0) return;
    const b = this.map.get(start);
    if (!b) {
      this.map.set(start, { min, max, sum, n });
      return;
    }
    if (min < b.min) b.min = min;
    if (max > b.max) b.max = max;
    b.sum += sum;
    b.n += n;
  }

  bucketOf(ts: number): number {
    return Math.floor(ts / this.bucketMs) * this.bucketMs;
  }

  columns(): BucketColumns {
    const starts = [...this.map.keys()].sort((a, b) => a - b);
    const k = starts.length;
    const out: BucketColumns = {
      count: k, ts: new Float64Array(k), min: new Float64Array(k), max: new Float64Array(k), sum: new Float64Array(k), n: new Float64Array(k),
    };
    starts.forEach((s, i) => {
      const b = this.map.get(s)!;
      out.ts[i] = s;
      out.min[i] = b.min;
      out.max[i] = b.max;
      out.sum[i] = b.sum;
      out.n[i] = b.n;
    });
    return out;
  }
}

/** A chunk as readers select it: start_ts, end_ts, value_count, min, max, sum, data. */
export type ChunkRow = [startTs: number, endTs: number, valueCount: number, min: number | null, max: number | null, sum: number, data: Uint8Array];
/** A roll-up row: ts, min, max, sum, count. */
export type RollupRow = [ts: number, min: number, max: number, sum: number, count: number];

/**
 * The chunks that can hold samples of [from, to] are those with start_ts in
 * [from - MAX_CHUNK_SPAN_MS, to] and end_ts >= from: a chunk spans at most MAX_CHUNK_SPAN_MS, so an
 * index scan on (point_id, start_ts) is bounded. The bounds, as [lowest start, highest start, lowest end].
 */
export function chunkBounds(from: number, to: number): [number, number, number] {
  return [from - MAX_CHUNK_SPAN_MS, to, from];
}

/**
 * Raw samples of [from, to] from a point's chunks, fed in start order, and its head: the same
 * whichever engine the chunks come from.
 */
export class RawCollector {
  private readonly parts: SampleColumns[] = [];
  private total = 0;
  private ordered = true;
  private lastTs = -Infinity;

  constructor(private readonly from: number, private readonly to: number, private readonly limit: number) {}

  /** False once `limit` samples are certain to precede a chunk that starts at `startTs`: read no more chunks. */
  wants(startTs: number): boolean {
    return !(this.ordered && this.total >= this.limit && startTs > this.lastTs);
  }

  addChunk(data: Uint8Array): void {
    const c = decodeChunk(data);
    let lo = 0;
    while (lo < c.count && c.ts[lo]! < this.from) lo++;
    let hi = lo;
    while (hi < c.count && c.ts[hi]! <= this.to) hi++;
    this.add(c, lo, hi);
  }

  /** The samples, oldest first, at most `limit`, once the head (already cut to the range) is added. */
  finish(head: SampleColumns): SampleColumns {
    this.add(head, 0, head.count);
    return mergeParts(this.parts, this.total, this.ordered, this.limit);
  }

  private add(c: SampleColumns, lo: number, hi: number): void {
    if (hi <= lo) return;
    const part = lo === 0 && hi === c.count ? c : {
      count: hi - lo, ts: c.ts.subarray(lo, hi), value: c.value.subarray(lo, hi), quality: c.quality.subarray(lo, hi),
    };
    if (part.ts[0]! < this.lastTs) this.ordered = false;
    this.lastTs = Math.max(this.lastTs, part.ts[part.count - 1]!);
    this.parts.push(part);
    this.total += part.count;
  }
}

/** Where the buckets of a range come from: whole roll-up periods [lo, hi) and raw ranges (inclusive) around them. */
export interface BucketPlan {
  /** The roll-up table that answers [lo, hi), or undefined when none divides the bucket width. */
  resolution: number | undefined;
  lo: number;
  hi: number;
  rawRanges: [number, number][];
}

/** The coarsest roll-up that divides the bucket width answers the whole roll-up periods inside the range. */
export function planBuckets(from: number, to: number, bucketMs: number): BucketPlan {
  const resolution = [...ROLLUP_RESOLUTIONS].reverse().find((r) => bucketMs % r === 0);
  if (resolution !== undefined) {
    const lo = Math.ceil(from / resolution) * resolution;
    const hi = Math.floor((to + 1) / resolution) * resolution; // exclusive; `to` is inclusive
    if (hi > lo) return { resolution, lo, hi, rawRanges: [[from, lo - 1], [hi, to]] };
  }
  return { resolution: undefined, lo: 0, hi: 0, rawRanges: [[from, to]] };
}

/**
 * Buckets from the plan's sources: roll-up rows of [lo, hi), the chunks of each raw range
 * (`chunksFor(a, b)`, those that can hold samples of [a, b]) and the head (the whole of it: the
 * head is never in the roll-ups).
 */
export function collectBuckets(
  plan: BucketPlan, bucketMs: number, rollups: Iterable<RollupRow>, chunksFor: (a: number, b: number) => Iterable<ChunkRow>, head: SampleColumns,
): BucketColumns {
  const acc = new BucketAccumulator(bucketMs);
  for (const [ts, min, max, sum, n] of rollups) acc.merge(acc.bucketOf(ts), min, max, sum, n);
  for (const [a, b] of plan.rawRanges) {
    if (a > b) continue;
    for (const [startTs, endTs, valueCount, min, max, sum, data] of chunksFor(a, b)) {
      if (startTs >= a && endTs <= b && acc.bucketOf(startTs) === acc.bucketOf(endTs)) {
        acc.merge(acc.bucketOf(startTs), min!, max!, sum, valueCount); // the chunk's summary: no decoding
        continue;
      }
      const c = decodeChunk(data);
      for (let i = 0; i < c.count; i++) {
        const t = c.ts[i]!;
        if (t >= a && t <= b) acc.sample(t, c.value[i]!);
      }
    }
  }
  for (let i = 0; i < head.count; i++) acc.sample(head.ts[i]!, head.value[i]!);
  return acc.columns();
}

/** SQLite: reads one point's chunks and roll-ups through prepared statements (in a read worker or the writer). */
export class SeriesReader {
  private readonly chunksInRange: Statement;
  private readonly rollups: Map<number, Statement>;

  constructor(db: SqliteDatabase) {
    this.chunksInRange = db.prepare(`SELECT start_ts, end_ts, value_count, min, max, sum, data FROM chunks
      WHERE point_id = ? AND start_ts >= ? AND start_ts <= ? AND end_ts >= ? AND id <= ? ORDER BY start_ts, id`).raw(true);
    this.rollups = new Map(ROLLUP_RESOLUTIONS.map((r) => [
      r, db.prepare(`SELECT ts, min, max, sum, count FROM ${rollupTable(r)} WHERE point_id = ? AND ts >= ? AND ts < ? ORDER BY ts`).raw(true),
    ]));
  }

  private chunks(pointId: number, from: number, to: number, watermark: number): ChunkRow[] {
    return this.chunksInRange.all(pointId, ...chunkBounds(from, to), watermark) as ChunkRow[];
  }

  /** Samples with from <= ts <= to, oldest first, at most `limit`. */
  readRaw(pointId: number, from: number, to: number, limit: number, head: SampleColumns, watermark: number): SampleColumns {
    const raw = new RawCollector(from, to, limit);
    for (const [startTs, , , , , , data] of this.chunks(pointId, from, to, watermark)) {
      if (!raw.wants(startTs)) break;
      raw.addChunk(data);
    }
    return raw.finish(head);
  }

  /** Buckets of width bucketMs (epoch-aligned) over from <= ts <= to. */
  readBuckets(pointId: number, from: number, to: number, bucketMs: number, head: SampleColumns, watermark: number): BucketColumns {
    const plan = planBuckets(from, to, bucketMs);
    const rollups = plan.resolution === undefined ? [] : this.rollups.get(plan.resolution)!.iterate(pointId, plan.lo, plan.hi) as Iterable<RollupRow>;
    return collectBuckets(plan, bucketMs, rollups, (a, b) => this.chunks(pointId, a, b, watermark), head);
  }
}

/** Concatenates parts (sorting only when they overlap in time) and keeps the first `limit`. */
function mergeParts(parts: SampleColumns[], total: number, ordered: boolean, limit: number): SampleColumns {
  if (parts.length === 0) return EMPTY;
  const ts = new Float64Array(total);
  const value = new Float64Array(total);
  const quality = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    ts.set(p.ts, at);
    value.set(p.value, at);
    quality.set(p.quality, at);
    at += p.count;
  }
  let out: SampleColumns = { count: total, ts, value, quality };
  if (!ordered) out = sortColumns(out);
  if (out.count > limit) {
    out = { count: limit, ts: out.ts.subarray(0, limit), value: out.value.subarray(0, limit), quality: out.quality.subarray(0, limit) };
  }
  return out;
}

/** A stable sort by time (samples of equal time keep their order). */
export function sortColumns(c: SampleColumns): SampleColumns {
  const order = Array.from({ length: c.count }, (_, i) => i);
  order.sort((a, b) => c.ts[a]! - c.ts[b]! || a - b);
  const ts = new Float64Array(c.count);
  const value = new Float64Array(c.count);
  const quality = new Uint8Array(c.count);
  order.forEach((i, k) => {
    ts[k] = c.ts[i]!;
    value[k] = c.value[i]!;
    quality[k] = c.quality[i]!;
  });
  return { count: c.count, ts, value, quality };
}
