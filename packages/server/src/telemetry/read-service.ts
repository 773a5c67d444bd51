/**
 * What a reader does for the store, the same whether it runs in a read worker or in the
 * writer's own process: raw samples, buckets, or an encoded export of several points.
 */
import type { SampleColumns } from './codec/chunk-codec.ts';
import { encodeExport } from './series-format.ts';
import type { BucketColumns, SeriesReader } from './series-reader.ts';
import type { SeriesExport } from './telemetry-store.ts';

export type ReadTask =
  | { op: 'raw'; pointId: number; from: number; to: number; limit: number; head: SampleColumns; watermark: number }
  | { op: 'buckets'; pointId: number; from: number; to: number; bucketMs: number; head: SampleColumns; watermark: number }
  | { op: 'export'; request: SeriesExport; heads: SampleColumns[]; watermark: number };

export function readRaw(reader: SeriesReader, t: Extract<ReadTask, { op: 'raw' }>): SampleColumns {
  return reader.readRaw(t.pointId, t.from, t.to, t.limit, t.head, t.watermark);
}

export function readBuckets(reader: SeriesReader, t: Extract<ReadTask, { op: 'buckets' }>): BucketColumns {
  return reader.readBuckets(t.pointId, t.from, t.to, t.bucketMs, t.head, t.watermark);
}

/** The pieces of an export, each point read only when the encoder reaches it. */
export function exportPieces(reader: SeriesReader, t: Extract<ReadTask, { op: 'export' }>): Generator<Uint8Array> {
  const { request, heads, watermark } = t;
  const index = new Map(request.points.map((p, i) => [p.id, i]));
  return encodeExport(request, (point) => {
    const head = heads[index.get(point.id)!]!;
    return request.bucketMs !== undefined
      ? { kind: 'buckets', columns: reader.readBuckets(point.id, request.from, request.to, request.bucketMs, head, watermark) }
      : { kind: 'raw', columns: reader.readRaw(point.id, request.from, request.to, request.limit, head, watermark) };
  });
}
