/**
 * The telemetry store port (STYLE.md §1): what ingest and the HTTP API need from wherever samples
 * live. Two implementations sit behind it and one contract suite
 * (test/telemetry/telemetry-store.contract.test.ts): SqliteTelemetryStore (the embedded file) and
 * PostgresTelemetryStore (shared by several server replicas).
 */
import type { Sample } from '@shellguard/protocol';

/** One batch as ingest hands it over: a guardian's durable sequence number and its samples. */
export interface IncomingBatch {
  /** Guardian device id (from its certificate). */
  deviceId: string;
  site: string;
  asset: string;
  /** The guardian queue's epoch ('' for queues from before epochs). */
  epoch: string;
  seq: number;
  samples: Sample[];
}

/** A batch is identified by (deviceId, epoch, seq): a new queue on the same device is a new sequence space. */
export interface BatchRef {
  deviceId: string;
  epoch: string;
  seq: number;
}

/**
 * `stored` and `duplicates` are durable when `appendBatches` returns, and both are to be
 * acknowledged: a duplicate was stored by an earlier call (a redelivery) and was not stored again.
 * `conflicts` reuse the identity of a stored batch with other content (a queue restored from an
 * old copy: its sequence went backwards within its epoch): never stored, never acknowledged as
 * stored. `refused` were turned down by the point admission (a quota); nothing of them is stored.
 */
export interface AppendResult {
  stored: BatchRef[];
  duplicates: BatchRef[];
  conflicts: BatchRef[];
  refused: { ref: BatchRef; reason: string }[];
  samplesStored: number;
}

/**
 * Asked, inside the append, before a batch that would create new points is stored: returns a
 * refusal reason (the whole batch is then refused and nothing of it stored) or undefined to admit.
 */
export type PointAdmission = (batch: IncomingBatch, newPoints: number, pointsOfAsset: number) => string | undefined;

/** A stored reading. Booleans are stored as 1 / 0; a failed read has `value: null`. */
export interface StoredSample {
  ts: number;
  value: number | null;
  quality: number;
}

export type LatestValue = StoredSample;

/** Aggregate of the non-null values whose `ts` falls in [ts, ts + bucketMs). */
export interface SampleBucket {
  ts: number;
  min: number;
  avg: number;
  max: number;
  count: number;
}

/** What a numeric point id stands for. */
export interface PointRef {
  id: number;
  site: string;
  asset: string;
  point: string;
}

/** What one export asks for: points over a range, raw or in buckets, as JSON or CSV bytes. */
export interface SeriesExport {
  points: readonly PointRef[];
  from: number;
  to: number;
  /** Aggregate into buckets of this width (ms, epoch-aligned); raw samples when absent. */
  bucketMs?: number;
  /** Raw samples per point, at most (the earliest ones). */
  limit: number;
  format: 'json' | 'csv';
  /**
   * JSON only: the shape of the body. `series` (default) is `{from, to, bucketMs?, series: [{point,
   * samples|buckets}]}`; `single` is the one-point body of `/points/:id/samples`,
   * `{point, from, to, samples}` or `{point, from, to, bucketMs, buckets}`.
   */
  shape?: 'series' | 'single';
  /**
   * JSON only: `rows` (default) lists samples as objects; `columns` gives each series as arrays
   * (`ts`, `value`, `quality`, or `ts`, `min`, `avg`, `max`, `count`) — half the bytes, and the
   * form charts take.
   */
  layout?: 'rows' | 'columns';
}

/** Disk use of the store, and where it is heading. */
export interface StorageReport {
  /** The database file (pages in use and free); on PostgreSQL the database's size, and 0 free (it reuses space within its files). */
  fileBytes: number;
  freeBytes: number;
  /** Compressed chunks: bytes of their data and samples they hold. */
  chunkBytes: number;
  chunkSamples: number;
  /** chunkBytes / chunkSamples (NaN before the first chunk). */
  bytesPerSample: number;
  /** Samples not yet sealed into chunks (SQLite: in memory, durable in the write-ahead log; PostgreSQL: raw rows). */
  headSamples: number;
  /** Rows of the de-duplication table (PostgreSQL: the planner's estimate above a million). */
  batchRows: number;
  sites: SiteStorage[];
}

export interface SiteStorage {
  site: string;
  retention: RetentionPolicy;
  chunkBytes: number;
  chunkSamples: number;
  /** Samples per second stored for this site, over the last hour (or since start), by this server (not by other replicas). */
  samplesPerSecond: number;
  /** Bytes the site's raw chunks reach once `retention.rawMs` is full at this rate. */
  projectedRawBytes: number;
}

/** How long each resolution is kept (ms). */
export interface RetentionPolicy {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}

/**
 * The telemetry store port (STYLE.md §1). Appends, reads and point creation are asynchronous, as a
 * network database's are; looking up the point catalog and latest values is memory and stays
 * synchronous (ingest, the live feed and the panels ask for them per sample). On PostgreSQL with
 * several replicas that memory is this replica's view: a point or latest value another replica
 * wrote shows up here after its next refresh (PostgresTelemetryStore, a few seconds), while every
 * decision that must hold across replicas (de-duplication, point ids, point quotas) is taken in the
 * database.
 */
export interface TelemetryStore {
  /**
   * Stores every batch not stored before, in one transaction, and reports what became of each
   * (see AppendResult). Rejects if the transaction fails; nothing of the call is stored then, so
   * nothing may be acknowledged.
   */
  appendBatches(batches: readonly IncomingBatch[], admitPoints?: PointAdmission): Promise<AppendResult>;
  /** How many points an asset has (as this server knows them). */
  pointCount(site: string, asset: string): number;
  /** The id of a point, created if the store has never seen it. Ids never change. */
  pointId(site: string, asset: string, point: string): Promise<number>;
  findPointId(site: string, asset: string, point: string): number | undefined;
  describePoint(pointId: number): PointRef | undefined;
  /** Points of an asset that have an id (sampled at least once or looked up through `pointId`). */
  pointsOf(site: string, asset: string): PointRef[];
  latest(pointId: number): LatestValue | undefined;
  /** Samples with from <= ts <= to, oldest first, at most `limit`. */
  querySamples(pointId: number, from: number, to: number, limit: number): Promise<StoredSample[]>;
  /** Buckets aligned to multiples of `bucketMs` (epoch-based), oldest first; empty buckets are left out. */
  queryBuckets(pointId: number, from: number, to: number, bucketMs: number): Promise<SampleBucket[]>;
  /**
   * The answer to an export as encoded bytes, in pieces, for the HTTP edge to stream (the
   * engine's fastest bulk path: reading and encoding happen away from ingest).
   */
  exportSeries(request: SeriesExport): AsyncIterable<Uint8Array>;
  storageReport(): Promise<StorageReport>;
  close(): Promise<void>;
}
