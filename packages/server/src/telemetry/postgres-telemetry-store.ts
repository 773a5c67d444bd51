/**
 * The telemetry store on PostgreSQL (issue 12), for several server replicas sharing one database.
 * The same port and contract as SqliteTelemetryStore, and the same chunk codec, laid out for a
 * network database that several writers share (layout.ts has the tables):
 *
 * - **Write path.** One transaction per `appendBatches`: the de-duplication rows first
 *   (`INSERT ... ON CONFLICT DO NOTHING RETURNING` says which batches are new, and a redelivery
 *   racing on another replica waits for the first one's commit and comes back as a duplicate),
 *   then every sample of the new batches with one multi-row `INSERT ... SELECT FROM unnest(...)`
 *   into `samples`, range-partitioned on ts into windows (an hour by default). No in-memory head
 *   is the truth of anything: a sample is readable by every replica once its append commits.
 * - **Compaction.** In the background, one replica at a time (`pg_try_advisory_lock`) creates the
 *   windows ahead of time, detaches each window once it has closed (its end plus a grace), and
 *   turns it into per-point chunks (a point's samples of the window, cut at MAX_CHUNK_SAMPLES) with
 *   their minute and hour roll-ups, in slices of points, each slice one transaction that also
 *   records how far the window is compacted; then the window is dropped whole. Samples that come
 *   too late for their window (or too early for one) land in the DEFAULT partition `samples_late`,
 *   which compaction drains into chunks on every pass. A 24 h read of a point is then its own ~24
 *   chunks plus its rows of the open window (by the (point_id, ts) index), never a day of all points.
 * - **Reads** run in one REPEATABLE READ transaction that first takes ACCESS SHARE on `samples`
 *   (so no window is detached under it) and then sees chunks, roll-ups, raw rows and detached
 *   windows' progress in one snapshot: every sample exactly once, whatever compaction is doing.
 * - **Retention** drops whole chunk and minute roll-up partitions once every site's policy is past
 *   them, and deletes per site (by point, through the index) where policies differ.
 *
 * What stays in this replica's memory, and how it catches up: the point catalog (ids never change
 * and points are never deleted, so a cached id is always right; a point another replica created is
 * learned when a batch of ours needs it, and by `refresh` within `refreshMs`), and latest values
 * (written to `latest` every few seconds by each replica, read back from the others' by `refresh`:
 * a latest value ingested elsewhere shows here up to ~refreshMs + 5 s late, and a replica that dies
 * loses the latest values of its last seconds — not their samples — until those points report again).
 * Point quotas are counted in the database under a per-asset advisory lock, so two replicas cannot
 * both admit the last free point of an asset.
 */
import { EventEmitter } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type { PostgresClient, PostgresPoolAccess, SqlDatabase } from '../db/sql-database.ts';
import { encodeChunk, summarize, type SampleColumns } from './codec/chunk-codec.ts';
import {
  CHUNK_PARTITION_MS, MAX_CHUNK_SPAN_MS, PARTITIONED_ROLLUPS, RAW_WINDOW_MS, ROLLUP_RESOLUTIONS, TELEMETRY_MIGRATIONS, rollupTable,
} from './layout.ts';
import {
  AGGREGATED_COLUMNS, byteaArray, decodeColumns, floatArray, integerArray, type AggregatedRow,
} from './postgres-columns.ts';
import { encodeExportAsync } from './series-format.ts';
import {
  RawCollector, chunkBounds, collectBuckets, planBuckets, type BucketColumns, type ChunkRow, type RollupRow,
} from './series-reader.ts';
import {
  RetentionPolicies, SiteRate, checkBucket, checkLimit, checkRange, fingerprintOf, forEachChunk, forEachRollup, toStored,
  type RetentionOptions,
} from './store-rules.ts';
import { TelemetryError } from './telemetry-error.ts';
import type {
  AppendResult, BatchRef, IncomingBatch, LatestValue, PointAdmission, PointRef, SampleBucket, SeriesExport, SiteStorage,
  StorageReport, StoredSample, TelemetryStore,
} from './telemetry-store.ts';

export interface PostgresTelemetryStoreOptions {
  now?: () => number;
  /** Raw and roll-up retention: a default and per-site overrides. */
  retention?: RetentionOptions;
  /** Batch rows are kept at least this long after they were stored (default 37 days; see SqliteTelemetryStoreOptions). */
  dedupKeepMs?: number;
  /** Width of the raw windows (default 1 h; at most MAX_CHUNK_SPAN_MS, since a window's chunks span it). */
  windowMs?: number;
  /** How long past its end a window waits for stragglers before it is compacted (default 5 min). */
  windowGraceMs?: number;
  /** Windows created ahead of the current one (default 2). */
  windowsAhead?: number;
  /** Test seam: called inside each compaction transaction, after its chunks are written. */
  afterSliceWritten?: () => void;
}

export interface PostgresMaintenanceOptions {
  /** How often maintenance looks for work (default 1 s). */
  intervalMs?: number;
  /** How often compaction runs (default 10 s); retention and batch pruning hourly. */
  compactEveryMs?: number;
  /** How often the catalog and latest values other replicas wrote are read (default 5 s). */
  refreshMs?: number;
  /** Called when a maintenance step throws; maintenance continues. */
  onError?: (err: unknown) => void;
}

export interface CompactionResult {
  /** False when another replica holds the compaction lock (nothing was done here). */
  ran: boolean;
  windowsCompacted: number;
  chunksWritten: number;
  samplesCompacted: number;
}

interface KnownPoint {
  ref: PointRef;
  latest: LatestValue | undefined;
  latestDirty: boolean;
}

interface PartitionRow {
  name: string;
  parent: string;
  start_ts: number;
  end_ts: number;
  detached: number;
  compacted_below: number;
}

interface Written {
  chunks: number;
  samples: number;
}

/** Advisory lock keys (two-int form): [space, key]. */
const LOCK_SPACE = 0x7e1e_0001;
const COMPACTION_LOCK = 1;
const POINT_LOCK_SPACE = 0x7e1e_0002;
const LATEST_FLUSH_EVERY_MS = 5_000;
const RETENTION_EVERY_MS = 3_600_000;
/** Raw samples read into memory per compaction transaction, about. */
const SLICE_SAMPLES = 200_000;
/** Rows of samples_late per drain transaction. */
const DRAIN_ROWS = 200_000;
/** Chunks per page of a raw read (a 24 h read of a 1 Hz point is ~24). */
const CHUNK_PAGE = 64;
const POINTS_PER_DELETE = 1_000;
/**
 * samples_late is vacuumed once this many of its rows were drained or moved: until then the
 * dead rows stay in its (point_id, ts) index, and a read of a point would visit each of them.
 */
const VACUUM_LATE_AFTER = 10_000;
/** DDL on `samples` waits at most this long for ingest and reads to let go, then retries next pass. */
const DDL_LOCK_TIMEOUT = '2s';
const DAY = 86_400_000;

/** Thrown inside a drain transaction to roll it back and go again (a partition was missing). */
class PartitionMissing extends Error {}

/** SQLSTATE of a pg error, if it is one. */
function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
const UNDEFINED_TABLE = '42P01';
const LOCK_NOT_AVAILABLE = '55P03';

/** Identifiers we make ourselves (parent + digits), quoted anyway. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `samples_20250615_1300`: a partition's name from its parent and its start (UTC). */
function partitionName(parent: string, start: number): string {
  const d = new Date(start);
  const y = d.getUTCFullYear();
  if (!Number.isFinite(start) || y < 1000 || y > 9999) return `${parent}_p${String(start).replace('-', 'm')}`;
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${parent}_${y}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}_${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}`;
}

async function rows<R>(client: PostgresClient, text: string, values?: readonly unknown[]): Promise<R[]> {
  return (await client.query<R>(text, values)).rows;
}

async function inTransaction<T>(client: PostgresClient, work: () => Promise<T>, begin = 'BEGIN'): Promise<T> {
  await client.query(begin);
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function chunkRowOf(r: { start_ts: number; end_ts: number; value_count: number; min: number | null; max: number | null; sum: number; data: Buffer }): ChunkRow {
  return [r.start_ts, r.end_ts, r.value_count, r.min, r.max, r.sum, r.data];
}

export class PostgresTelemetryStore implements TelemetryStore {
  private readonly db: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the store's own tables (layout.ts)
  private readonly pool: PostgresPoolAccess;
  private readonly now: () => number;
  private readonly retention: RetentionPolicies;
  private readonly dedupKeepMs: number;
  private readonly windowMs: number;
  private readonly graceMs: number;
  private readonly windowsAhead: number;
  private readonly afterSliceWritten: (() => void) | undefined;
  /** Emits 'compacted' after each compaction pass that did something (tests wait on it). */
  readonly events = new EventEmitter();

  private readonly assets = new Map<string, Map<string, KnownPoint>>();
  private readonly points = new Map<number, KnownPoint>();
  private dirtyLatest: KnownPoint[] = [];
  /** (device, epoch) -> batch source id (never change, never deleted). */
  private readonly sources = new Map<string, number>();
  /** Per batch source, the highest seq this replica stored since its last batch mark. */
  private readonly seqHigh = new Map<number, number>();
  private readonly rates = new Map<string, SiteRate>();
  /** The oldest transaction `refresh` may not have seen the writes of (pg_snapshot_xmin of the last refresh). */
  private seenXmin = '0';
  /** Rows drained or moved out of samples_late since it was last vacuumed. */
  private lateRowsGone = 0;
  private closed = false;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private maintenancePass: Promise<void> | undefined;

  private constructor(database: SqlDatabase, options: PostgresTelemetryStoreOptions) {
    this.db = database.db;
    this.pool = database.postgres!;
    this.now = options.now ?? Date.now;
    this.retention = new RetentionPolicies(options.retention);
    this.dedupKeepMs = options.dedupKeepMs ?? 37 * DAY;
    this.windowMs = options.windowMs ?? RAW_WINDOW_MS;
    if (!Number.isInteger(this.windowMs) || this.windowMs < 60_000 || this.windowMs > MAX_CHUNK_SPAN_MS || CHUNK_PARTITION_MS % this.windowMs !== 0) {
      throw new RangeError(`windowMs must be a whole number of minutes up to ${MAX_CHUNK_SPAN_MS} ms that divides ${CHUNK_PARTITION_MS}`);
    }
    this.graceMs = options.windowGraceMs ?? 300_000;
    this.windowsAhead = options.windowsAhead ?? 2;
    this.afterSliceWritten = options.afterSliceWritten;
  }

  /** Opens the store on a migrated PostgreSQL database: loads the point catalog and latest values. */
  static async open(database: SqlDatabase, options: PostgresTelemetryStoreOptions = {}): Promise<PostgresTelemetryStore> {
    if (!database.postgres) throw new TypeError('PostgresTelemetryStore needs a PostgreSQL database; use SqliteTelemetryStore on SQLite');
    const row = await sql<{ version: number }>`SELECT version FROM schema_versions WHERE domain = 'telemetry'`.execute(database.db)
      .then((r) => r.rows[0], () => undefined);
    if (row === undefined || row.version < TELEMETRY_MIGRATIONS.length) {
      throw new Error(`the telemetry tables are not migrated (version ${row?.version ?? 0} of ${TELEMETRY_MIGRATIONS.length}): run migrateServerDatabase before building the store`);
    }
    const store = new PostgresTelemetryStore(database, options);
    await store.refresh();
    return store;
  }

  // ---------------------------------------------------------------- the point catalog

  private remember(ref: PointRef): KnownPoint {
    const existing = this.points.get(ref.id);
    if (existing) return existing;
    const key = `${ref.site}\u0000${ref.asset}`;
    let byName = this.assets.get(key);
    if (!byName) this.assets.set(key, (byName = new Map()));
    const p: KnownPoint = { ref: { id: ref.id, site: ref.site, asset: ref.asset, point: ref.point }, latest: undefined, latestDirty: false };
    byName.set(ref.point, p);
    this.points.set(ref.id, p);
    return p;
  }

  findPointId(site: string, asset: string, point: string): number | undefined {
    return this.assets.get(`${site}\u0000${asset}`)?.get(point)?.ref.id;
  }

  pointCount(site: string, asset: string): number {
    return this.assets.get(`${site}\u0000${asset}`)?.size ?? 0;
  }

  describePoint(pointId: number): PointRef | undefined {
    const p = this.points.get(pointId);
    return p ? { ...p.ref } : undefined;
  }

  pointsOf(site: string, asset: string): PointRef[] {
    const a = this.assets.get(`${site}\u0000${asset}`);
    return a ? [...a.values()].map((p) => ({ ...p.ref })) : [];
  }

  latest(pointId: number): LatestValue | undefined {
    const v = this.points.get(pointId)?.latest;
    return v ? { ...v } : undefined;
  }

  async pointId(site: string, asset: string, point: string): Promise<number> {
    this.assertOpen();
    const known = this.findPointId(site, asset, point);
    if (known !== undefined) return known;
    // The id comes from the database: another replica may be creating the same point right now.
    await this.db.insertInto('series').values({ site, asset, point })
      .onConflict((oc) => oc.columns(['site', 'asset', 'point']).doNothing()).execute();
    const row = await this.db.selectFrom('series').select('id')
      .where('site', '=', site).where('asset', '=', asset).where('point', '=', point).executeTakeFirstOrThrow() as { id: number };
    return this.remember({ id: row.id, site, asset, point }).ref.id;
  }

  private noteLatest(p: KnownPoint, ts: number, value: number, quality: number): void {
    const cur = p.latest;
    if (cur !== undefined && ts < cur.ts) return;
    p.latest = { ts, value: Number.isNaN(value) ? null : value, quality };
    if (!p.latestDirty) {
      p.latestDirty = true;
      this.dirtyLatest.push(p);
    }
  }

  /**
   * Reads what other replicas wrote since the last refresh: new points and latest values. Exact
   * without scanning everything: rows carry their writing transaction's id, and every transaction
   * older than the last refresh's snapshot xmin had finished (its rows were seen then).
   */
  async refresh(): Promise<void> {
    this.assertOpen();
    const since = this.seenXmin;
    const got = await this.pool.withClient((client) => inTransaction(client, async () => {
      const [{ xmin }] = await rows<{ xmin: string }>(client, 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin') as [{ xmin: string }];
      const series = await rows<PointRef>(client, 'SELECT id, site, asset, point FROM series WHERE created_xid >= $1::xid8 ORDER BY id', [since]);
      const latest = await rows<{ point_id: number; ts: number; value: number | null; quality: number }>(client,
        'SELECT point_id, ts, value, quality FROM latest WHERE xid >= $1::xid8', [since]);
      return { xmin, series, latest };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'));
    for (const ref of got.series) this.remember(ref);
    for (const r of got.latest) {
      const p = this.points.get(r.point_id);
      if (!p || (p.latest !== undefined && p.latest.ts >= r.ts)) continue;
      p.latest = { ts: r.ts, value: r.value, quality: r.quality };
    }
    this.seenXmin = got.xmin;
  }

  private assertOpen(): void {
    if (this.closed) throw new TelemetryError('telemetry_closed', 'the telemetry store is closed');
  }

  // ---------------------------------------------------------------- append

  /** The source ids of the batches' (device, epoch), created on first use (a source row alone is harmless). */
  private async sourceIds(batches: readonly IncomingBatch[]): Promise<number[]> {
    const missing = new Map<string, { device_id: string; epoch: string }>();
    for (const b of batches) {
      const key = `${b.deviceId}\u0000${b.epoch}`;
      if (!this.sources.has(key)) missing.set(key, { device_id: b.deviceId, epoch: b.epoch });
    }
    if (missing.size > 0) {
      const wanted = [...missing.values()];
      await this.db.insertInto('batch_sources').values(wanted)
        .onConflict((oc) => oc.columns(['device_id', 'epoch']).doNothing()).execute();
      const found = await this.db.selectFrom('batch_sources').select(['id', 'device_id', 'epoch'])
        .where((eb) => eb.or(wanted.map((w) => eb.and([eb('device_id', '=', w.device_id), eb('epoch', '=', w.epoch)]))))
        .execute() as { id: number; device_id: string; epoch: string }[];
      for (const r of found) this.sources.set(`${r.device_id}\u0000${r.epoch}`, r.id);
    }
    return batches.map((b) => this.sources.get(`${b.deviceId}\u0000${b.epoch}`)!);
  }

  async appendBatches(batches: readonly IncomingBatch[], admitPoints?: PointAdmission): Promise<AppendResult> {
    this.assertOpen();
    const out: AppendResult = { stored: [], duplicates: [], conflicts: [], refused: [], samplesStored: 0 };
    if (batches.length === 0) return out;
    const storedAt = this.now();
    const source = await this.sourceIds(batches);
    const fingerprint = batches.map((b) => fingerprintOf(b));
    const key = (i: number) => `${source[i]}/${batches[i]!.seq}`;
    // A batch given twice in one call is one identity: its first occurrence decides.
    const firstOf = new Map<string, number>();
    batches.forEach((_, i) => { if (!firstOf.has(key(i))) firstOf.set(key(i), i); });
    const unique = [...firstOf.values()];
    const created: PointRef[] = [];
    const learned: PointRef[] = [];
    const stored: { batch: IncomingBatch; ids: number[] }[] = [];
    const storedIndexes: number[] = [];

    await this.pool.withClient((client) => inTransaction(client, async () => {
      const inserted = await rows<{ source: number; seq: number }>(client, `INSERT INTO batches (source, seq, stored_at, samples, fingerprint)
        SELECT s, q, $3, n, f FROM unnest($1::bigint[], $2::bigint[], $4::int[], $5::bigint[]) AS i(s, q, n, f)
        ON CONFLICT DO NOTHING RETURNING source, seq`, [
        integerArray(unique.map((i) => source[i]!)), integerArray(unique.map((i) => batches[i]!.seq)), storedAt,
        integerArray(unique.map((i) => batches[i]!.samples.length)), integerArray(unique.map((i) => fingerprint[i]!)),
      ]);
      const isNew = new Set(inserted.map((r) => `${r.source}/${r.seq}`));
      // The stored fingerprints of the others (this statement sees a racing replica's commit).
      const old = unique.filter((i) => !isNew.has(key(i)));
      const known = new Map<string, number | null>();
      if (old.length > 0) {
        for (const r of await rows<{ source: number; seq: number; fingerprint: number | null }>(client, `SELECT b.source, b.seq, b.fingerprint
          FROM batches b JOIN unnest($1::bigint[], $2::bigint[]) AS k(s, q) ON b.source = k.s AND b.seq = k.q`,
        [integerArray(old.map((i) => source[i]!)), integerArray(old.map((i) => batches[i]!.seq))])) known.set(`${r.source}/${r.seq}`, r.fingerprint);
      }
      for (const i of unique) if (isNew.has(key(i))) known.set(key(i), fingerprint[i]!);
      const pending = new Map<string, Map<string, number>>();
      const refused = new Map<string, string>();
      for (const [i, b] of batches.entries()) {
        const ref: BatchRef = { deviceId: b.deviceId, epoch: b.epoch, seq: b.seq };
        const k = key(i);
        if (firstOf.get(k) !== i || !isNew.has(k)) {
          const reason = refused.get(k);
          if (reason !== undefined) { out.refused.push({ ref, reason }); continue; }
          // NULL (or pruned meanwhile): a redelivery is the only explanation we can check.
          const fp = known.get(k);
          if (fp === null || fp === undefined || fp === fingerprint[i]) out.duplicates.push(ref);
          else out.conflicts.push(ref);
          continue;
        }
        const ids = await this.resolvePoints(client, b, pending, created, learned, admitPoints);
        if (typeof ids === 'string') {
          await client.query('DELETE FROM batches WHERE source = $1 AND seq = $2', [source[i], b.seq]);
          refused.set(k, ids);
          out.refused.push({ ref, reason: ids });
          continue;
        }
        out.stored.push(ref);
        out.samplesStored += b.samples.length;
        stored.push({ batch: b, ids });
        storedIndexes.push(i);
      }
      if (out.samplesStored > 0) await this.insertSamples(client, stored, out.samplesStored);
    })).catch((err: unknown) => {
      for (const ref of learned) this.remember(ref); // committed by others: still true
      throw err;
    });

    // Memory only after the commit: a rolled-back point or value is never seen.
    for (const ref of [...learned, ...created]) this.remember(ref);
    for (const { batch, ids } of stored) {
      const samples = batch.samples;
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i]!;
        this.noteLatest(this.points.get(ids[i]!)!, s.ts, toStored(s.value), s.quality);
      }
      let rate = this.rates.get(batch.site);
      if (!rate) this.rates.set(batch.site, (rate = new SiteRate()));
      rate.count(samples.length, storedAt);
    }
    for (const i of storedIndexes) {
      const seq = batches[i]!.seq;
      if (seq > (this.seqHigh.get(source[i]!) ?? -1)) this.seqHigh.set(source[i]!, seq);
    }
    return out;
  }

  /**
   * Inside the append transaction: the point id of each sample of `b`, creating the new ones once
   * the admission agreed, or the admission's refusal. Points unknown here may exist already (another
   * replica's): they are looked up first, under a per-asset advisory lock so that the count the
   * admission sees is the asset's true one until this transaction ends.
   */
  private async resolvePoints(
    client: PostgresClient, b: IncomingBatch, pending: Map<string, Map<string, number>>, created: PointRef[], learned: PointRef[],
    admit: PointAdmission | undefined,
  ): Promise<number[] | string> {
    const assetKey = `${b.site}\u0000${b.asset}`;
    const mine = this.assets.get(assetKey);
    let ours = pending.get(assetKey);
    const n = b.samples.length;
    const ids: number[] = new Array<number>(n);
    const unknown = new Set<string>();
    for (let i = 0; i < n; i++) {
      const name = b.samples[i]!.point;
      const id = mine?.get(name)?.ref.id ?? ours?.get(name);
      if (id === undefined) unknown.add(name);
      else ids[i] = id;
    }
    if (unknown.size === 0) return ids;
    if (!ours) pending.set(assetKey, (ours = new Map()));
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [POINT_LOCK_SPACE, `${b.site}\u0001${b.asset}`]);
    const names = [...unknown].sort();
    for (const r of await rows<{ id: number; point: string }>(client,
      'SELECT id, point FROM series WHERE site = $1 AND asset = $2 AND point = ANY($3::text[])', [b.site, b.asset, names])) {
      learned.push({ id: r.id, site: b.site, asset: b.asset, point: r.point });
      ours.set(r.point, r.id);
      unknown.delete(r.point);
    }
    if (unknown.size > 0) {
      const [{ n: has }] = await rows<{ n: number }>(client, 'SELECT count(*)::int AS n FROM series WHERE site = $1 AND asset = $2', [b.site, b.asset]) as [{ n: number }];
      const refusal = admit?.(b, unknown.size, has);
      if (refusal !== undefined) return refusal;
      const fresh = [...unknown].sort();
      const made = await rows<{ id: number; point: string }>(client, `INSERT INTO series (site, asset, point)
        SELECT $1, $2, p FROM unnest($3::text[]) AS p ORDER BY p ON CONFLICT DO NOTHING RETURNING id, point`, [b.site, b.asset, fresh]);
      for (const r of made) {
        created.push({ id: r.id, site: b.site, asset: b.asset, point: r.point });
        ours.set(r.point, r.id);
      }
      if (made.length < fresh.length) {
        // Created meanwhile by a writer that does not take the asset lock (pointId).
        for (const r of await rows<{ id: number; point: string }>(client,
          'SELECT id, point FROM series WHERE site = $1 AND asset = $2 AND point = ANY($3::text[])', [b.site, b.asset, fresh])) {
          if (ours.has(r.point)) continue;
          learned.push({ id: r.id, site: b.site, asset: b.asset, point: r.point });
          ours.set(r.point, r.id);
        }
      }
    }
    for (let i = 0; i < n; i++) if (ids[i] === undefined) ids[i] = ours.get(b.samples[i]!.point)!;
    return ids;
  }

  /** Every sample of the stored batches, one multi-row insert (array literals built in one pass each). */
  private async insertSamples(client: PostgresClient, stored: { batch: IncomingBatch; ids: number[] }[], total: number): Promise<void> {
    const pointIds = new Float64Array(total);
    const ts = new Float64Array(total);
    const values = new Float64Array(total);
    const quality = new Float64Array(total);
    let at = 0;
    for (const { batch, ids } of stored) {
      const samples = batch.samples;
      for (let i = 0; i < samples.length; i++, at++) {
        const s = samples[i]!;
        pointIds[at] = ids[i]!;
        ts[at] = s.ts;
        values[at] = toStored(s.value);
        quality[at] = s.quality;
      }
    }
    await client.query('INSERT INTO samples (point_id, ts, value, quality) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::smallint[])',
      [integerArray(pointIds), integerArray(ts), floatArray(values), integerArray(quality)]);
  }

  // ---------------------------------------------------------------- reads

  /**
   * Runs `work` in one snapshot that no compaction step can tear: ACCESS SHARE on `samples` is
   * taken before the snapshot, so a window is detached either before it (and listed as detached)
   * or after the read. A detached window dropped after the snapshot began fails the read with
   * "undefined table"; it is simply read again.
   */
  private async inSnapshot<T>(work: (client: PostgresClient, detached: PartitionRow[]) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.pool.withClient(async (client) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await inTransaction(client, async () => {
            await client.query('LOCK TABLE samples IN ACCESS SHARE MODE');
            const detached = await rows<PartitionRow>(client,
              "SELECT name, parent, start_ts, end_ts, detached, compacted_below FROM telemetry_partitions WHERE parent = 'samples' AND detached = 1");
            return work(client, detached);
          }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        } catch (err) {
          if (sqlState(err) === UNDEFINED_TABLE && attempt < 5) continue;
          throw err;
        }
      }
    });
  }

  /** A point's raw (not yet compacted) samples of [from, to], sorted. */
  private async rawRows(client: PostgresClient, detached: PartitionRow[], pointId: number, from: number, to: number): Promise<SampleColumns> {
    const parts = ['SELECT ts, value, quality FROM samples WHERE point_id = $1 AND ts >= $2 AND ts <= $3'];
    for (const w of detached) {
      if (pointId < w.compacted_below || w.end_ts <= from || w.start_ts > to) continue;
      parts.push(`SELECT ts, value, quality FROM ${ident(w.name)} WHERE point_id = $1 AND ts >= $2 AND ts <= $3`);
    }
    const r = await rows<AggregatedRow>(client, `SELECT ${AGGREGATED_COLUMNS} FROM (${parts.join(' UNION ALL ')}) r`, [pointId, from, to]);
    return decodeColumns(r[0]);
  }

  private async readRaw(client: PostgresClient, detached: PartitionRow[], pointId: number, from: number, to: number, limit: number): Promise<SampleColumns> {
    const raw = new RawCollector(from, to, limit);
    const head = await this.rawRows(client, detached, pointId, from, to);
    const [lowStart, highStart, lowEnd] = chunkBounds(from, to);
    for (let offset = 0; ; offset += CHUNK_PAGE) {
      const page = await rows<Parameters<typeof chunkRowOf>[0]>(client, `SELECT start_ts, end_ts, value_count, min, max, sum, data FROM chunks
        WHERE point_id = $1 AND start_ts >= $2 AND start_ts <= $3 AND end_ts >= $4 ORDER BY start_ts, end_ts LIMIT $5 OFFSET $6`,
      [pointId, lowStart, highStart, lowEnd, CHUNK_PAGE, offset]);
      for (const r of page) {
        if (!raw.wants(r.start_ts)) return raw.finish(head);
        raw.addChunk(r.data);
      }
      if (page.length < CHUNK_PAGE) return raw.finish(head);
    }
  }

  private async readBuckets(client: PostgresClient, detached: PartitionRow[], pointId: number, from: number, to: number, bucketMs: number): Promise<BucketColumns> {
    const plan = planBuckets(from, to, bucketMs);
    const rollups: RollupRow[] = plan.resolution === undefined ? [] : (await rows<{ ts: number; min: number; max: number; sum: number; count: number }>(client,
      `SELECT ts, min, max, sum, count FROM ${rollupTable(plan.resolution)} WHERE point_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts`,
      [pointId, plan.lo, plan.hi])).map((r) => [r.ts, r.min, r.max, r.sum, r.count]);
    const ranges = plan.rawRanges.filter(([a, b]) => a <= b);
    let chunks: ChunkRow[] = [];
    if (ranges.length > 0) {
      const values: number[] = [pointId];
      const where = ranges.map(([a, b]) => {
        const [lowStart, highStart, lowEnd] = chunkBounds(a, b);
        values.push(lowStart, highStart, lowEnd);
        const k = values.length;
        return `(start_ts >= $${k - 2} AND start_ts <= $${k - 1} AND end_ts >= $${k})`;
      });
      chunks = (await rows<Parameters<typeof chunkRowOf>[0]>(client, `SELECT start_ts, end_ts, value_count, min, max, sum, data FROM chunks
        WHERE point_id = $1 AND (${where.join(' OR ')}) ORDER BY start_ts, end_ts`, values)).map(chunkRowOf);
    }
    const head = await this.rawRows(client, detached, pointId, from, to);
    return collectBuckets(plan, bucketMs, rollups, (a, b) => {
      const [lowStart, highStart, lowEnd] = chunkBounds(a, b);
      return chunks.filter((c) => c[0] >= lowStart && c[0] <= highStart && c[1] >= lowEnd);
    }, head);
  }

  async querySamples(pointId: number, from: number, to: number, limit: number): Promise<StoredSample[]> {
    checkRange(from, to);
    checkLimit(limit);
    const c = await this.inSnapshot((client, detached) => this.readRaw(client, detached, pointId, from, to, limit));
    const out: StoredSample[] = new Array<StoredSample>(c.count);
    for (let i = 0; i < c.count; i++) {
      const v = c.value[i]!;
      out[i] = { ts: c.ts[i]!, value: Number.isNaN(v) ? null : v, quality: c.quality[i]! };
    }
    return out;
  }

  async queryBuckets(pointId: number, from: number, to: number, bucketMs: number): Promise<SampleBucket[]> {
    checkRange(from, to);
    checkBucket(bucketMs);
    const b = await this.inSnapshot((client, detached) => this.readBuckets(client, detached, pointId, from, to, bucketMs));
    const out: SampleBucket[] = new Array<SampleBucket>(b.count);
    for (let i = 0; i < b.count; i++) out[i] = { ts: b.ts[i]!, min: b.min[i]!, avg: b.sum[i]! / b.n[i]!, max: b.max[i]!, count: b.n[i]! };
    return out;
  }

  /** Each point is read in its own snapshot, when the encoder reaches it. */
  async *exportSeries(request: SeriesExport): AsyncGenerator<Uint8Array> {
    checkRange(request.from, request.to);
    if (request.bucketMs !== undefined) checkBucket(request.bucketMs);
    this.assertOpen();
    const { from, to, bucketMs, limit } = request;
    yield* encodeExportAsync(request, async (point) => bucketMs !== undefined
      ? { kind: 'buckets', columns: await this.inSnapshot((client, detached) => this.readBuckets(client, detached, point.id, from, to, bucketMs)) }
      : { kind: 'raw', columns: await this.inSnapshot((client, detached) => this.readRaw(client, detached, point.id, from, to, limit)) });
  }

  async storageReport(): Promise<StorageReport> {
    this.assertOpen();
    const db = this.db;
    const [{ bytes }] = (await sql<{ bytes: number }>`SELECT pg_database_size(current_database()) AS bytes`.execute(db)).rows as [{ bytes: number }];
    const usage = await db.selectFrom('site_usage').select(['site', 'chunk_bytes', 'chunk_samples']).orderBy('site').execute() as
      { site: string; chunk_bytes: number; chunk_samples: number }[];
    const detached = await db.selectFrom('telemetry_partitions').select(['name', 'compacted_below'])
      .where('parent', '=', 'samples').where('detached', '=', 1).execute() as { name: string; compacted_below: number }[];
    const headSamples = await this.countRows('samples', 'SELECT count(*)::bigint AS n FROM samples', detached);
    const batchRows = await this.countRows('batches', 'SELECT count(*)::bigint AS n FROM batches', []);
    const now = this.now();
    const bySite = new Map(usage.map((u) => [u.site, u]));
    for (const site of this.rates.keys()) if (!bySite.has(site)) bySite.set(site, { site, chunk_bytes: 0, chunk_samples: 0 });
    let chunkBytes = 0;
    let chunkSamples = 0;
    const sites: SiteStorage[] = [];
    for (const u of [...bySite.values()].sort((a, b) => a.site.localeCompare(b.site))) {
      chunkBytes += u.chunk_bytes;
      chunkSamples += u.chunk_samples;
      const rate = this.rates.get(u.site)?.perSecond(now) ?? 0;
      const retention = this.retention.of(u.site);
      const perSample = u.chunk_samples > 0 ? u.chunk_bytes / u.chunk_samples : NaN;
      sites.push({
        site: u.site, retention, chunkBytes: u.chunk_bytes, chunkSamples: u.chunk_samples, samplesPerSecond: rate,
        projectedRawBytes: Number.isNaN(perSample) ? 0 : Math.round(rate * (retention.rawMs / 1000) * perSample),
      });
    }
    return {
      fileBytes: bytes, freeBytes: 0, chunkBytes, chunkSamples, bytesPerSample: chunkSamples > 0 ? chunkBytes / chunkSamples : NaN,
      headSamples, batchRows, sites,
    };
  }

  /** Exact below a million rows; the planner's estimate above (counting a big table takes seconds). */
  private async countRows(table: 'samples' | 'batches', exact: string, detached: { name: string; compacted_below: number }[]): Promise<number> {
    const estimate = (await sql<{ n: number }>`SELECT COALESCE(sum(GREATEST(c.reltuples, 0)), 0)::bigint AS n FROM pg_class c
      WHERE c.oid = ${table}::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = ${table}::regclass)`.execute(this.db)).rows[0]!.n;
    if (estimate >= 1_000_000) return estimate;
    return this.pool.withClient(async (client) => {
      let n = (await rows<{ n: number }>(client, exact))[0]!.n;
      for (const w of detached) {
        n += (await rows<{ n: number }>(client, `SELECT count(*)::bigint AS n FROM ${ident(w.name)} WHERE point_id >= $1`, [w.compacted_below])
          .catch((err: unknown) => { if (sqlState(err) === UNDEFINED_TABLE) return [{ n: 0 }]; throw err; }))[0]!.n;
      }
      return n;
    });
  }

  // ---------------------------------------------------------------- latest values and batch marks (every replica)

  /** Writes changed latest values to `latest` (they live in memory between flushes). */
  async flushLatest(): Promise<void> {
    if (this.dirtyLatest.length === 0) return;
    const points = this.dirtyLatest;
    this.dirtyLatest = [];
    const n = points.length;
    const ids = new Float64Array(n);
    const ts = new Float64Array(n);
    const value = new Float64Array(n);
    const quality = new Float64Array(n);
    points.forEach((p, i) => {
      const v = p.latest!;
      ids[i] = p.ref.id;
      ts[i] = v.ts;
      value[i] = v.value ?? NaN;
      quality[i] = v.quality;
      p.latestDirty = false;
    });
    try {
      await this.pool.withClient((client) => client.query(`INSERT INTO latest (point_id, ts, value, quality)
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::smallint[])
        ON CONFLICT (point_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, quality = excluded.quality, xid = pg_current_xact_id()
        WHERE excluded.ts >= latest.ts`, [integerArray(ids), integerArray(ts), floatArray(value), integerArray(quality)]));
    } catch (err) {
      for (const p of points) {
        if (p.latestDirty) continue;
        p.latestDirty = true;
        this.dirtyLatest.push(p); // still to write
      }
      throw err;
    }
  }

  /**
   * The de-duplication table without end (as SqliteTelemetryStore.pruneBatches): marks the highest
   * seq this replica stored per source since its last call, then deletes batch rows covered by
   * marks older than dedupKeepMs (any replica's). Idempotent, so replicas need no lock for it.
   */
  async pruneBatches(): Promise<number> {
    this.assertOpen();
    const now = this.now();
    await this.markBatches(now);
    const cutoff = now - this.dedupKeepMs;
    const old = await this.db.selectFrom('batch_marks').select(['source', (eb) => eb.fn.max('seq').as('seq')])
      .where('at', '<', cutoff).groupBy('source').orderBy('source').execute() as { source: number; seq: number }[];
    let deleted = 0;
    for (const m of old) {
      const r = await this.db.deleteFrom('batches').where('source', '=', m.source).where('seq', '<=', m.seq).executeTakeFirst();
      deleted += Number(r.numDeletedRows);
      await this.db.deleteFrom('batch_marks').where('source', '=', m.source).where('at', '<', cutoff).execute();
    }
    return deleted;
  }

  /** Records, per source, the highest seq this replica stored since the last mark. */
  private async markBatches(now: number): Promise<void> {
    if (this.seqHigh.size === 0) return;
    const marks = [...this.seqHigh].map(([source, seq]) => ({ source, seq, at: now }));
    this.seqHigh.clear();
    try {
      await this.db.insertInto('batch_marks').values(marks)
        .onConflict((oc) => oc.columns(['source', 'at']).doUpdateSet({ seq: sql`GREATEST(batch_marks.seq, excluded.seq)` })).execute();
    } catch (err) {
      for (const m of marks) if (m.seq > (this.seqHigh.get(m.source) ?? -1)) this.seqHigh.set(m.source, m.seq);
      throw err;
    }
  }

  // ---------------------------------------------------------------- compaction (one replica at a time)

  /** Runs `work` if this replica gets the compaction lock (session-level, on one client), else returns undefined. */
  private async underCompactionLock<T>(work: (client: PostgresClient) => Promise<T>): Promise<T | undefined> {
    this.assertOpen();
    return this.pool.withClient(async (client) => {
      const [{ ok }] = await rows<{ ok: boolean }>(client, 'SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_SPACE, COMPACTION_LOCK]) as [{ ok: boolean }];
      if (!ok) return undefined;
      try {
        return await work(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, COMPACTION_LOCK]);
      }
    });
  }

  private async partitions(client: PostgresClient): Promise<PartitionRow[]> {
    return rows<PartitionRow>(client, 'SELECT name, parent, start_ts, end_ts, detached, compacted_below FROM telemetry_partitions ORDER BY parent, start_ts');
  }

  /**
   * One compaction pass: windows created ahead, closed windows detached and turned into chunks,
   * late samples drained. `all` compacts every raw sample now, open windows too (tests, tools).
   */
  async compact(options: { all?: boolean } = {}): Promise<CompactionResult> {
    const result = await this.underCompactionLock(async (client) => {
      const done: CompactionResult = { ran: true, windowsCompacted: 0, chunksWritten: 0, samplesCompacted: 0 };
      const now = this.now();
      let parts = await this.partitions(client);
      if (!options.all) await this.createWindowsAhead(client, parts, now);
      for (const w of parts) {
        if (w.parent !== 'samples' || w.detached === 1 || (!options.all && w.end_ts + this.graceMs > now)) continue;
        await this.detachWindow(client, w);
      }
      parts = await this.partitions(client);
      for (const w of parts) {
        if (w.parent !== 'samples' || w.detached !== 1) continue;
        const r = await this.compactWindow(client, w, parts);
        if (r === undefined) continue;
        done.windowsCompacted++;
        done.chunksWritten += r.chunks;
        done.samplesCompacted += r.samples;
      }
      const late = await this.drainLate(client, parts);
      done.chunksWritten += late.chunks;
      done.samplesCompacted += late.samples;
      this.lateRowsGone += late.samples;
      if (this.lateRowsGone >= VACUUM_LATE_AFTER) {
        // Outside a transaction; SHARE UPDATE EXCLUSIVE only, so appends go on.
        await client.query('VACUUM samples_late');
        this.lateRowsGone = 0;
      }
      return done;
    });
    const out = result ?? { ran: false, windowsCompacted: 0, chunksWritten: 0, samplesCompacted: 0 };
    if (out.samplesCompacted > 0) this.events.emit('compacted', out);
    return out;
  }

  /** Compacts every raw sample now, whatever its window (the counterpart of SqliteTelemetryStore.sealAll). */
  async compactAll(): Promise<CompactionResult> {
    return this.compact({ all: true });
  }

  /**
   * The current window and `windowsAhead` more, each made as a plain table and attached (which
   * takes only SHARE UPDATE EXCLUSIVE on `samples`, so ingest and reads go on); samples that
   * reached samples_late for its range move in first, under a lock that keeps more from arriving.
   */
  private async createWindowsAhead(client: PostgresClient, parts: PartitionRow[], now: number): Promise<void> {
    const first = Math.floor(now / this.windowMs) * this.windowMs;
    const attached = parts.filter((p) => p.parent === 'samples' && p.detached === 0);
    for (let k = 0; k <= this.windowsAhead; k++) {
      const start = first + k * this.windowMs;
      const end = start + this.windowMs;
      if (attached.some((p) => p.start_ts < end && p.end_ts > start)) continue;
      const name = partitionName('samples', start);
      if (parts.some((p) => p.name === name)) continue; // detached, waiting for compaction
      const made = await this.ddl(client, async () => {
        await client.query('LOCK TABLE samples_late IN ACCESS EXCLUSIVE MODE');
        await client.query(`CREATE TABLE ${ident(name)} (LIKE samples INCLUDING DEFAULTS)`);
        const moved = await client.query(`WITH moved AS (DELETE FROM samples_late WHERE ts >= $1 AND ts < $2 RETURNING point_id, ts, value, quality)
          INSERT INTO ${ident(name)} (point_id, ts, value, quality) SELECT * FROM moved`, [start, end]);
        this.lateRowsGone += moved.rowCount ?? 0;
        await client.query(`ALTER TABLE samples ATTACH PARTITION ${ident(name)} FOR VALUES FROM (${start}) TO (${end})`);
        await client.query("INSERT INTO telemetry_partitions (name, parent, start_ts, end_ts) VALUES ($1, 'samples', $2, $3)", [name, start, end]);
      });
      if (made) attached.push({ name, parent: 'samples', start_ts: start, end_ts: end, detached: 0, compacted_below: 0 });
    }
  }

  /**
   * A short DDL transaction that gives up (returns false, to be retried next pass) rather than
   * queue ingest behind it for long when it cannot get its locks.
   */
  private async ddl(client: PostgresClient, work: () => Promise<void>): Promise<boolean> {
    try {
      await inTransaction(client, async () => {
        await client.query(`SET LOCAL lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
        await work();
      });
      return true;
    } catch (err) {
      if (sqlState(err) === LOCK_NOT_AVAILABLE) return false;
      throw err;
    }
  }

  /** From here on samples of the window's range go to samples_late; readers find it as detached. */
  private async detachWindow(client: PostgresClient, w: PartitionRow): Promise<boolean> {
    return this.ddl(client, async () => {
      await client.query(`ALTER TABLE samples DETACH PARTITION ${ident(w.name)}`);
      await client.query('UPDATE telemetry_partitions SET detached = 1 WHERE name = $1', [w.name]);
    });
  }

  /** Chunk and minute roll-up partitions for the partition indexes given (CHUNK_PARTITION_MS wide). */
  private async ensurePartitions(client: PostgresClient, parts: PartitionRow[], indexes: Iterable<number>): Promise<void> {
    for (const k of indexes) {
      const start = k * CHUNK_PARTITION_MS;
      const end = start + CHUNK_PARTITION_MS;
      for (const parent of ['chunks', ...PARTITIONED_ROLLUPS.map(rollupTable)]) {
        if (parts.some((p) => p.parent === parent && p.start_ts === start)) continue;
        const name = partitionName(parent, start);
        await inTransaction(client, async () => {
          await client.query(`CREATE TABLE ${ident(name)} PARTITION OF ${parent} FOR VALUES FROM (${start}) TO (${end})`);
          await client.query('INSERT INTO telemetry_partitions (name, parent, start_ts, end_ts) VALUES ($1, $2, $3, $4)', [name, parent, start, end]);
        });
        parts.push({ name, parent, start_ts: start, end_ts: end, detached: 0, compacted_below: 0 });
      }
    }
  }

  /**
   * A detached window into chunks, in slices of points (each slice one transaction that records
   * how far the window is compacted, so a crash leaves every sample in exactly one place), then
   * dropped. Undefined when the drop must wait (a long read holds the table): next pass.
   */
  private async compactWindow(client: PostgresClient, w: PartitionRow, parts: PartitionRow[]): Promise<Written | undefined> {
    const table = ident(w.name);
    const total: Written = { chunks: 0, samples: 0 };
    const counts = await rows<{ point_id: number; n: number }>(client,
      `SELECT point_id, count(*)::int AS n FROM ${table} WHERE point_id >= $1 GROUP BY point_id ORDER BY point_id`, [w.compacted_below]);
    if (counts.length > 0) {
      await this.ensurePartitions(client, parts, new Set([Math.floor(w.start_ts / CHUNK_PARTITION_MS), Math.floor((w.end_ts - 1) / CHUNK_PARTITION_MS)]));
      await this.learnPoints(counts.map((c) => c.point_id));
    }
    let at = 0;
    while (at < counts.length) {
      const lo = counts[at]!.point_id;
      let samples = 0;
      while (at < counts.length && (samples === 0 || samples + counts[at]!.n <= SLICE_SAMPLES)) samples += counts[at++]!.n;
      const hi = counts[at - 1]!.point_id;
      const written = await inTransaction(client, async () => {
        const got = await rows<AggregatedRow & { point_id: number }>(client,
          `SELECT point_id, ${AGGREGATED_COLUMNS} FROM ${table} WHERE point_id >= $1 AND point_id <= $2 GROUP BY point_id ORDER BY point_id`, [lo, hi]);
        const r = await this.writeCompacted(client, got.map((g) => [g.point_id, decodeColumns(g)]));
        await client.query('UPDATE telemetry_partitions SET compacted_below = $2 WHERE name = $1', [w.name, hi + 1]);
        this.afterSliceWritten?.();
        return r;
      });
      total.chunks += written.chunks;
      total.samples += written.samples;
    }
    const dropped = await this.ddl(client, async () => {
      await client.query('DELETE FROM telemetry_partitions WHERE name = $1', [w.name]);
      await client.query(`DROP TABLE ${table}`);
    });
    return dropped ? total : undefined;
  }

  /** Samples that missed their window, into chunks, a bounded number of rows per transaction. */
  private async drainLate(client: PostgresClient, parts: PartitionRow[]): Promise<Written> {
    const total: Written = { chunks: 0, samples: 0 };
    for (;;) {
      const needed = (await rows<{ k: number }>(client, `SELECT DISTINCT floor(ts::float8 / ${CHUNK_PARTITION_MS})::bigint AS k FROM samples_late`)).map((r) => r.k);
      if (needed.length === 0) return total;
      await this.ensurePartitions(client, parts, needed);
      const ids = (await rows<{ point_id: number }>(client, 'SELECT DISTINCT point_id FROM samples_late')).map((r) => r.point_id);
      await this.learnPoints(ids);
      const written = await inTransaction(client, async () => {
        const got = await rows<AggregatedRow & { point_id: number }>(client, `WITH d AS (
            DELETE FROM samples_late WHERE ctid = ANY(ARRAY(SELECT ctid FROM samples_late LIMIT ${DRAIN_ROWS})) RETURNING point_id, ts, value, quality
          ) SELECT point_id, ${AGGREGATED_COLUMNS} FROM d GROUP BY point_id ORDER BY point_id`);
        const cols = got.map((g): [number, SampleColumns] => [g.point_id, decodeColumns(g)]);
        // Rows that arrived since the partitions were made may want another one: roll back, make it, again.
        for (const [, c] of cols) {
          for (let i = 0; i < c.count; i++) {
            const start = Math.floor(c.ts[i]! / CHUNK_PARTITION_MS) * CHUNK_PARTITION_MS;
            if (!parts.some((p) => p.parent === 'chunks' && p.start_ts === start)) throw new PartitionMissing();
          }
        }
        const r = await this.writeCompacted(client, cols);
        this.afterSliceWritten?.();
        return r;
      }).catch((err: unknown) => {
        if (err instanceof PartitionMissing) return undefined;
        throw err;
      });
      if (written === undefined) continue;
      total.chunks += written.chunks;
      total.samples += written.samples;
      if (written.samples < DRAIN_ROWS) return total;
    }
  }

  /** Makes sure the catalog knows these points (their sites), e.g. created by another replica a moment ago. */
  private async learnPoints(ids: readonly number[]): Promise<void> {
    const missing = ids.filter((id) => !this.points.has(id));
    if (missing.length === 0) return;
    const found = await this.db.selectFrom('series').select(['id', 'site', 'asset', 'point']).where('id', 'in', missing).execute() as PointRef[];
    for (const ref of found) this.remember(ref);
  }

  /** Inside a compaction transaction: chunks, roll-ups and usage of each point's sorted samples. */
  private async writeCompacted(client: PostgresClient, points: [number, SampleColumns][]): Promise<Written> {
    const chunk = {
      pointId: [] as number[], start: [] as number[], end: [] as number[], count: [] as number[], valueCount: [] as number[],
      min: [] as number[], max: [] as number[], sum: [] as number[], data: [] as Uint8Array[],
    };
    const rollups = ROLLUP_RESOLUTIONS.map(() => ({ pointId: [] as number[], ts: [] as number[], min: [] as number[], max: [] as number[], sum: [] as number[], n: [] as number[] }));
    const usage = new Map<string, { bytes: number; samples: number }>();
    let samples = 0;
    for (const [pointId, cols] of points) {
      if (cols.count === 0) continue;
      const site = this.points.get(pointId)?.ref.site ?? '';
      const u = usage.get(site) ?? { bytes: 0, samples: 0 };
      usage.set(site, u);
      forEachChunk(cols, (start, end) => {
        const data = encodeChunk(cols, start, end);
        const s = summarize(cols, start, end);
        chunk.pointId.push(pointId);
        chunk.start.push(s.firstTs);
        chunk.end.push(s.lastTs);
        chunk.count.push(s.count);
        chunk.valueCount.push(s.valueCount);
        chunk.min.push(s.valueCount > 0 ? s.min : NaN);
        chunk.max.push(s.valueCount > 0 ? s.max : NaN);
        chunk.sum.push(s.valueCount > 0 ? s.sum : 0);
        chunk.data.push(data);
        u.bytes += data.length;
      });
      u.samples += cols.count;
      samples += cols.count;
      // One period per point and resolution per statement: the whole of the point's samples at once.
      ROLLUP_RESOLUTIONS.forEach((r, k) => {
        const out = rollups[k]!;
        forEachRollup(cols, 0, cols.count, r, (ts, min, max, sum, n) => {
          out.pointId.push(pointId); out.ts.push(ts); out.min.push(min); out.max.push(max); out.sum.push(sum); out.n.push(n);
        });
      });
    }
    if (chunk.pointId.length === 0) return { chunks: 0, samples: 0 };
    await client.query(`INSERT INTO chunks (point_id, start_ts, end_ts, count, value_count, min, max, sum, data)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::int[], $6::float8[], $7::float8[], $8::float8[], $9::bytea[])`, [
      integerArray(chunk.pointId), integerArray(chunk.start), integerArray(chunk.end), integerArray(chunk.count), integerArray(chunk.valueCount),
      floatArray(chunk.min), floatArray(chunk.max), floatArray(chunk.sum), byteaArray(chunk.data),
    ]);
    for (const [k, r] of ROLLUP_RESOLUTIONS.entries()) {
      const out = rollups[k]!;
      if (out.pointId.length === 0) continue;
      const t = rollupTable(r);
      await client.query(`INSERT INTO ${t} (point_id, ts, min, max, sum, count)
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::int[])
        ON CONFLICT (point_id, ts) DO UPDATE SET min = LEAST(${t}.min, excluded.min), max = GREATEST(${t}.max, excluded.max),
          sum = ${t}.sum + excluded.sum, count = ${t}.count + excluded.count`, [
        integerArray(out.pointId), integerArray(out.ts), floatArray(out.min), floatArray(out.max), floatArray(out.sum), integerArray(out.n),
      ]);
    }
    await this.addUsage(client, usage);
    return { chunks: chunk.pointId.length, samples };
  }

  private async addUsage(client: PostgresClient, usage: Map<string, { bytes: number; samples: number }>): Promise<void> {
    if (usage.size === 0) return;
    const sites = [...usage.keys()];
    await client.query(`INSERT INTO site_usage (site, chunk_bytes, chunk_samples) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
      ON CONFLICT (site) DO UPDATE SET chunk_bytes = site_usage.chunk_bytes + excluded.chunk_bytes, chunk_samples = site_usage.chunk_samples + excluded.chunk_samples`,
    [sites, integerArray(sites.map((s) => usage.get(s)!.bytes)), integerArray(sites.map((s) => usage.get(s)!.samples))]);
  }

  // ---------------------------------------------------------------- retention (one replica at a time)

  /**
   * Raw chunks and roll-ups past each site's policy: whole partitions once every site is past
   * them, then per site, by point through the index, what is left. Returns chunks deleted, or
   * undefined when another replica holds the compaction lock (it runs retention then).
   */
  async expire(): Promise<{ chunksDeleted: number; partitionsDropped: number } | undefined> {
    return this.underCompactionLock(async (client) => {
      await this.refresh();
      const now = this.now();
      const sites = new Set<string>([...this.points.values()].map((p) => p.ref.site));
      for (const r of await rows<{ site: string }>(client, 'SELECT site FROM site_usage')) sites.add(r.site);
      const policies = [...sites].map((site) => ({ site, policy: this.retention.of(site) }));
      const oldest = (ms: (p: (typeof policies)[number]['policy']) => number) =>
        Math.min(...(policies.length > 0 ? policies.map((p) => now - ms(p.policy)) : [now - ms(this.retention.of(''))]));
      let partitionsDropped = 0;
      let chunksDeleted = 0;
      // Whole partitions: a chunk ends at most MAX_CHUNK_SPAN_MS after its partition's range.
      const rawCut = oldest((p) => p.rawMs);
      const minuteCut = oldest((p) => p.minuteMs);
      for (const p of await this.partitions(client)) {
        const droppable = (p.parent === 'chunks' && p.end_ts + MAX_CHUNK_SPAN_MS <= rawCut)
          || (p.parent === rollupTable(60_000) && p.end_ts <= minuteCut);
        if (!droppable) continue;
        await inTransaction(client, async () => {
          if (p.parent === 'chunks') {
            const gone = await rows<{ site: string; bytes: number; samples: number; n: number }>(client, `SELECT s.site, sum(octet_length(c.data))::bigint AS bytes,
              sum(c.count)::bigint AS samples, count(*)::bigint AS n FROM ${ident(p.name)} c JOIN series s ON s.id = c.point_id GROUP BY s.site`);
            await this.addUsage(client, new Map(gone.map((g) => [g.site, { bytes: -g.bytes, samples: -g.samples }])));
            chunksDeleted += gone.reduce((n, g) => n + g.n, 0);
          }
          await client.query(`DROP TABLE ${ident(p.name)}`);
          await client.query('DELETE FROM telemetry_partitions WHERE name = $1', [p.name]);
        });
        partitionsDropped++;
      }
      // Per site, what is left.
      for (const { site, policy } of policies) {
        const ids = [...this.points.values()].filter((p) => p.ref.site === site).map((p) => p.ref.id).sort((a, b) => a - b);
        for (let i = 0; i < ids.length; i += POINTS_PER_DELETE) {
          const group = integerArray(ids.slice(i, i + POINTS_PER_DELETE));
          await inTransaction(client, async () => {
            const cut = now - policy.rawMs;
            const [gone] = await rows<{ bytes: number; samples: number; n: number }>(client, `WITH d AS (
                DELETE FROM chunks WHERE point_id = ANY($1::bigint[]) AND start_ts < $2 AND end_ts < $2 RETURNING octet_length(data) AS bytes, count
              ) SELECT COALESCE(sum(bytes), 0)::bigint AS bytes, COALESCE(sum(count), 0)::bigint AS samples, count(*)::bigint AS n FROM d`, [group, cut]);
            if (gone && gone.n > 0) {
              chunksDeleted += gone.n;
              await this.addUsage(client, new Map([[site, { bytes: -gone.bytes, samples: -gone.samples }]]));
            }
            await client.query(`DELETE FROM ${rollupTable(60_000)} WHERE point_id = ANY($1::bigint[]) AND ts < $2`, [group, now - policy.minuteMs]);
            await client.query(`DELETE FROM ${rollupTable(3_600_000)} WHERE point_id = ANY($1::bigint[]) AND ts < $2`, [group, now - policy.hourMs]);
          });
        }
      }
      return { chunksDeleted, partitionsDropped };
    });
  }

  // ---------------------------------------------------------------- maintenance

  /**
   * On an unref'd timer: refresh from other replicas, flush latest values, compact (if this
   * replica gets the lock), and hourly retention and batch pruning. One pass at a time.
   */
  startMaintenance(options: PostgresMaintenanceOptions = {}): void {
    if (this.maintenanceTimer) return;
    const onError = options.onError ?? (() => undefined);
    const compactEveryMs = options.compactEveryMs ?? 10_000;
    const refreshMs = options.refreshMs ?? 5_000;
    const safely = async (step: () => Promise<unknown>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        if (!this.closed) onError(err);
      }
    };
    const start = this.now();
    let lastRefresh = start;
    let lastLatest = start;
    let lastCompaction = start - compactEveryMs;
    let lastRetention = start - RETENTION_EVERY_MS + 60_000; // the first pass a minute after start
    const pass = async (): Promise<void> => {
      const now = this.now();
      if (now - lastRefresh >= refreshMs) { lastRefresh = now; await safely(() => this.refresh()); }
      if (now - lastLatest >= LATEST_FLUSH_EVERY_MS) {
        lastLatest = now;
        await safely(() => this.flushLatest());
        await safely(() => this.markBatches(now));
      }
      if (this.closed) return;
      if (now - lastCompaction >= compactEveryMs) { lastCompaction = now; await safely(() => this.compact()); }
      if (this.closed) return;
      if (now - lastRetention >= RETENTION_EVERY_MS) {
        lastRetention = now;
        await safely(() => this.expire());
        await safely(() => this.pruneBatches());
      }
    };
    this.maintenanceTimer = setInterval(() => {
      if (this.closed || this.maintenancePass) return;
      this.maintenancePass = pass().finally(() => { this.maintenancePass = undefined; });
    }, options.intervalMs ?? 1_000);
    this.maintenanceTimer.unref();
  }

  stopMaintenance(): void {
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.maintenanceTimer = undefined;
  }

  /**
   * Stops maintenance (waiting for a pass in flight), writes latest values and batch marks. Raw
   * samples stay where they are (compaction takes them later, here or on another replica); the
   * database is closed by its owner.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopMaintenance();
    await this.maintenancePass;
    await this.flushLatest();
    await this.markBatches(this.now());
    this.closed = true;
  }
}
