/**
 * The embedded telemetry store (ARCHITECTURE.md §5), laid out as time-series engines are
 * (Gorilla §4; Prometheus' head block and WAL):
 *
 * - **Write path.** An append writes its de-duplication rows and ONE sample-log row holding all
 *   its samples in columns, in one transaction; after the commit the samples join their points'
 *   in-memory heads. A batch is acknowledged only after that commit.
 * - **Sealing.** In the background, a head that holds SEAL_SAMPLES samples or spans SEAL_SPAN_MS
 *   is encoded into one compressed chunk with its min/max/sum/count, and its samples' minute and
 *   hour roll-ups are merged, in one transaction that also records up to which log row the point
 *   is sealed. A point that reports rarely has its head copied to the spill table instead, so the
 *   log does not have to keep it. The log is then truncated below the oldest head.
 * - **Reads** take a snapshot of the point's head and the highest chunk id on this thread, defer
 *   sealing of that point until they finish, and run in read workers on their own connections.
 * - **Restart** reads the spill table and replays the log rows above each point's sealed mark:
 *   every sample is in exactly one place whatever moment the process died at.
 * - **Retention** deletes raw chunks and roll-ups older than each site's policy; batch rows of the
 *   de-duplication table are pruned once no redelivery of them could be accepted any more.
 * - **One writer.** The file's connection is shared with the kysely stores of the other domains, so
 *   every write here (append, point creation, sealing, checkpoint, retention, pruning, latest-value
 *   flush) runs while holding the database's SqliteWriteLock: a kysely transaction open across
 *   awaits never has a telemetry write slip into it. Each write is one synchronous better-sqlite3
 *   transaction inside the lock, so the hot path stays prepared statements.
 *
 * The tables are created by the server's migrations (layout.ts, run by migrateServerDatabase)
 * before the store is built.
 */
import { EventEmitter } from 'node:events';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../db/database.ts';
import type { SqlDatabase } from '../db/sql-database.ts';
import type { SqliteWriteLock } from '../db/sqlite-write-lock.ts';
import { decodeChunk, encodeChunk, summarize, type SampleColumns } from './codec/chunk-codec.ts';
import {
  MAX_CHUNK_SPAN_MS, ROLLUP_RESOLUTIONS, SEAL_SAMPLES, SEAL_SPAN_MS, TELEMETRY_MIGRATIONS, hasLegacyRows,
  rollupTable,
} from './layout.ts';
import { PointHead } from './point-head.ts';
import { ReadPool } from './read-pool.ts';
import { exportPieces, readBuckets, readRaw } from './read-service.ts';
import { LogRecordBuilder, decodeLogRecord } from './sample-log.ts';
import {
  RetentionPolicies, SiteRate, checkBucket, checkLimit, checkRange, fingerprintOf, forEachChunk, forEachRollup, toStored, type RetentionOptions,
} from './store-rules.ts';
import { SeriesReader, type BucketColumns } from './series-reader.ts';
import { TelemetryError } from './telemetry-error.ts';
import type {
  AppendResult, BatchRef, IncomingBatch, LatestValue, PointAdmission, PointRef, RetentionPolicy, SampleBucket, SeriesExport,
  SiteStorage, StorageReport, StoredSample, TelemetryStore,
} from './telemetry-store.ts';

const DAY = 86_400_000;

export interface SqliteTelemetryStoreOptions {
  now?: () => number;
  /** Read workers with their own connections (default 1); 0 reads in this thread. */
  readWorkers?: number;
  /** Raw and roll-up retention: a default and per-site overrides. */
  retention?: RetentionOptions;
  /**
   * Batch rows are kept at least this long after they were stored (default 37 days): longer than
   * ingest accepts a sample's age, so a redelivery of a pruned batch is refused for its age.
   */
  dedupKeepMs?: number;
  /** A head whose oldest sample arrived this long ago is spilled (default 5 min). */
  spillAfterMs?: number;
  /** Test seams: sealing thresholds. */
  sealSamples?: number;
  sealSpanMs?: number;
  /** Test seam: called after each chunk is written inside a sealing transaction. */
  afterChunkWritten?: () => void;
}

export interface MaintenanceOptions {
  /** How often sealing runs (default 250 ms); checkpoints, retention and pruning follow from it. */
  intervalMs?: number;
  /** Longest a sealing slice keeps the thread before yielding to ingest (default 15 ms). */
  sliceMs?: number;
  /** Called when a maintenance step throws (e.g. disk full); maintenance continues. */
  onError?: (err: unknown) => void;
}

export interface SealResult {
  pointsSealed: number;
  chunksWritten: number;
  samplesSealed: number;
}

interface AssetPoints {
  site: string;
  asset: string;
  byName: Map<string, PointHead>;
}

interface SiteCounters {
  chunkBytes: number;
  chunkSamples: number;
  rate: SiteRate;
}

const EMPTY_HEAD: SampleColumns = { count: 0, ts: new Float64Array(0), value: new Float64Array(0), quality: new Uint8Array(0) };
const CHECKPOINT_EVERY_MS = 5_000;
const RETENTION_EVERY_MS = 3_600_000;
const LATEST_FLUSH_EVERY_MS = 5_000;
const RETENTION_POINTS_PER_STEP = 500;

export class SqliteTelemetryStore implements TelemetryStore {
  private readonly db: SqliteDatabase;
  /** Held by every write (see the file comment). */
  private readonly lock: SqliteWriteLock;
  private readonly now: () => number;
  private readonly sealSamples: number;
  private readonly sealSpanMs: number;
  private readonly spillAfterMs: number;
  private readonly dedupKeepMs: number;
  private readonly retention: RetentionPolicies;
  private readonly afterChunkWritten: (() => void) | undefined;
  private readonly pool: ReadPool | undefined;
  private readonly localReader: SeriesReader;
  private closed = false;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  /** Emits 'sealed' after each sealing transaction (tests wait on it). */
  readonly events = new EventEmitter();

  private readonly assets = new Map<string, AssetPoints>();
  /** Every known point, by id: its ref, latest value and head. */
  private readonly heads = new Map<number, PointHead>();
  /** Points whose latest value the table lags. */
  private dirtyLatest: PointHead[] = [];
  /** Points whose head reached a sealing threshold. */
  private readonly toSeal = new Set<number>();
  /** Per point, the log row up to which its samples are sealed into chunks. */
  private readonly sealedThrough = new Map<number, number>();
  /** Readers in flight per point: sealing of these points waits for them. */
  private readonly readers = new Map<number, number>();
  private readonly sites = new Map<string, SiteCounters>();
  /** (device, epoch) -> its batch source id. */
  private readonly sources = new Map<string, number>();
  /** Per batch source, the highest seq stored since the last batch mark. */
  private readonly seqHigh = new Map<number, number>();
  private lastLogId = 0;
  private maxChunkId = 0;
  private batchRows = 0;
  private readonly log = new LogRecordBuilder();
  /** The point of each sample of the log record being built (same index). */
  private logHeads: PointHead[] = [];
  private readonly scratchIds: (PointHead | undefined)[] = [];
  private readonly createdSources: string[] = [];
  private retentionCursor = -1;

  private readonly stmt: Record<string, Statement>;
  private readonly appendTx: (batches: readonly IncomingBatch[], out: AppendResult, created: PointRef[], admit: PointAdmission | undefined) => void;

  /** `database` must be SQLite (its handle and write lock are used) and migrated. */
  constructor(database: SqlDatabase, options: SqliteTelemetryStoreOptions = {}) {
    if (!database.sqlite) throw new TypeError('SqliteTelemetryStore needs a SQLite database; use PostgresTelemetryStore on PostgreSQL');
    const db = database.sqlite.handle;
    this.db = db;
    this.lock = database.sqlite.lock;
    this.now = options.now ?? Date.now;
    this.sealSamples = options.sealSamples ?? SEAL_SAMPLES;
    this.sealSpanMs = Math.min(options.sealSpanMs ?? SEAL_SPAN_MS, MAX_CHUNK_SPAN_MS);
    this.spillAfterMs = options.spillAfterMs ?? 300_000;
    this.dedupKeepMs = options.dedupKeepMs ?? 37 * DAY;
    this.retention = new RetentionPolicies(options.retention);
    this.afterChunkWritten = options.afterChunkWritten;
    assertMigrated(db);
    this.stmt = {
      insertSource: db.prepare('INSERT INTO batch_sources (device_id, epoch) VALUES (?, ?)'),
      insertBatch: db.prepare('INSERT OR IGNORE INTO batches (source, seq, stored_at, samples, fingerprint) VALUES (?, ?, ?, ?, ?)'),
      batchFingerprint: db.prepare('SELECT fingerprint FROM batches WHERE source = ? AND seq = ?').pluck(),
      deleteBatch: db.prepare('DELETE FROM batches WHERE source = ? AND seq = ?'),
      insertSeries: db.prepare('INSERT INTO series (site, asset, point) VALUES (?, ?, ?)'),
      insertPointState: db.prepare('INSERT OR IGNORE INTO point_state (point_id, sealed_through_log_id) VALUES (?, 0)'),
      insertLog: db.prepare('INSERT INTO sample_log (at, data) VALUES (?, ?)'),
      truncateLog: db.prepare('DELETE FROM sample_log WHERE id < ?'),
      insertChunk: db.prepare(`INSERT INTO chunks (point_id, start_ts, end_ts, count, value_count, min, max, sum, data)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      setSealed: db.prepare('UPDATE point_state SET sealed_through_log_id = ? WHERE point_id = ?'),
      upsertSpill: db.prepare(`INSERT INTO head_spill (point_id, through_log_id, data) VALUES (?, ?, ?)
        ON CONFLICT (point_id) DO UPDATE SET through_log_id = excluded.through_log_id, data = excluded.data`),
      deleteSpill: db.prepare('DELETE FROM head_spill WHERE point_id = ?'),
      upsertLatest: db.prepare(`INSERT INTO latest (point_id, ts, value, quality) VALUES (?, ?, ?, ?)
        ON CONFLICT (point_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, quality = excluded.quality
        WHERE excluded.ts >= latest.ts`),
      upsertUsage: db.prepare(`INSERT INTO site_usage (site, chunk_bytes, chunk_samples) VALUES (?, ?, ?)
        ON CONFLICT (site) DO UPDATE SET chunk_bytes = chunk_bytes + excluded.chunk_bytes, chunk_samples = chunk_samples + excluded.chunk_samples`),
      chunksToExpire: db.prepare('SELECT COALESCE(SUM(length(data)), 0) AS bytes, COALESCE(SUM(count), 0) AS samples FROM chunks WHERE point_id = ? AND start_ts < ? AND end_ts < ?'),
      expireChunks: db.prepare('DELETE FROM chunks WHERE point_id = ? AND start_ts < ? AND end_ts < ?'),
      insertMark: db.prepare('INSERT OR REPLACE INTO batch_marks (source, seq, at) VALUES (?, ?, ?)'),
      oldMarks: db.prepare('SELECT source, MAX(seq) AS seq FROM batch_marks WHERE at < ? GROUP BY source'),
      pruneBatches: db.prepare('DELETE FROM batches WHERE source = ? AND seq <= ?'),
      pruneMarks: db.prepare('DELETE FROM batch_marks WHERE source = ? AND at < ?'),
    };
    const rollupUpserts = ROLLUP_RESOLUTIONS.map((r) => db.prepare(`INSERT INTO ${rollupTable(r)} (point_id, ts, min, max, sum, count)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (point_id, ts) DO UPDATE SET min = MIN(min, excluded.min), max = MAX(max, excluded.max),
      sum = sum + excluded.sum, count = count + excluded.count`));
    const rollupExpiry = ROLLUP_RESOLUTIONS.map((r) => db.prepare(`DELETE FROM ${rollupTable(r)} WHERE point_id = ? AND ts < ?`));
    ROLLUP_RESOLUTIONS.forEach((_, i) => {
      this.stmt[`rollup${i}`] = rollupUpserts[i]!;
      this.stmt[`expireRollup${i}`] = rollupExpiry[i]!;
    });
    this.appendTx = db.transaction((batches, out, created, admit) => this.appendInTransaction(batches, out, created, admit));
    this.localReader = new SeriesReader(db);
    this.load();
    const workers = options.readWorkers ?? 1;
    this.pool = workers > 0 && !db.memory ? new ReadPool(db.name, workers) : undefined;
  }

  // ---------------------------------------------------------------- opening

  private load(): void {
    const db = this.db;
    if (hasLegacyRows(db)) {
      // A one-time write at open. It is synchronous, so with the lock free nothing can interleave;
      // with it held (a transaction of another domain in flight) it must not run.
      if (this.lock.isHeld) throw new Error('open the telemetry store before other stores write: its database holds version-1 rows to carry over');
      this.upgradeLegacy();
    }
    for (const row of db.prepare('SELECT id, site, asset, point FROM series').iterate() as Iterable<PointRef>) this.remember(row);
    for (const r of db.prepare('SELECT point_id, ts, value, quality FROM latest').iterate() as Iterable<{ point_id: number; ts: number; value: number | null; quality: number }>) {
      const head = this.heads.get(r.point_id);
      if (head) head.latest = { ts: r.ts, value: r.value, quality: r.quality };
    }
    for (const r of db.prepare('SELECT point_id, sealed_through_log_id AS s FROM point_state').iterate() as Iterable<{ point_id: number; s: number }>) {
      this.sealedThrough.set(r.point_id, r.s);
    }
    for (const r of db.prepare('SELECT site, chunk_bytes, chunk_samples FROM site_usage').iterate() as Iterable<{ site: string; chunk_bytes: number; chunk_samples: number }>) {
      const c = this.siteCounters(r.site);
      c.chunkBytes = r.chunk_bytes;
      c.chunkSamples = r.chunk_samples;
    }
    this.maxChunkId = (db.prepare('SELECT COALESCE(MAX(id), 0) FROM chunks').pluck().get() as number);
    this.batchRows = (db.prepare('SELECT COUNT(*) FROM batches').pluck().get() as number);
    for (const r of db.prepare('SELECT id, device_id, epoch FROM batch_sources').iterate() as Iterable<{ id: number; device_id: string; epoch: string }>) {
      this.sources.set(`${r.device_id}\u0000${r.epoch}`, r.id);
    }
    const now = this.now();
    // Spilled heads first, then the log rows each point has not sealed or spilled yet.
    for (const r of db.prepare('SELECT point_id, through_log_id, data FROM head_spill').iterate() as Iterable<{ point_id: number; through_log_id: number; data: Buffer }>) {
      const head = this.heads.get(r.point_id);
      if (!head) continue;
      head.load(decodeChunk(r.data));
      head.spilledThrough = r.through_log_id;
    }
    this.lastLogId = (db.prepare("SELECT COALESCE(MAX(id), 0) FROM sample_log").pluck().get() as number);
    const seqRow = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'sample_log'").pluck().get() as number | undefined;
    this.lastLogId = Math.max(this.lastLogId, seqRow ?? 0);
    for (const r of db.prepare('SELECT id, data FROM sample_log ORDER BY id').iterate() as Iterable<{ id: number; data: Buffer }>) {
      const c = decodeLogRecord(r.data);
      for (let i = 0; i < c.count; i++) {
        const pid = c.pointId[i]!;
        if (r.id <= (this.sealedThrough.get(pid) ?? 0)) continue;
        const head = this.heads.get(pid);
        if (!head || r.id <= head.spilledThrough) continue;
        head.add(c.ts[i]!, c.value[i]!, c.quality[i]!, r.id, now);
        this.noteLatest(head, c.ts[i]!, c.value[i]!, c.quality[i]!);
      }
    }
    for (const head of this.heads.values()) {
      if (head.count === 0) continue;
      const c = head.columns();
      const last = c.count - 1;
      this.noteLatest(head, c.ts[last]!, c.value[last]!, c.quality[last]!);
      if (this.wantsSeal(head)) this.toSeal.add(head.pointId);
    }
  }

  /**
   * Carries a version-1 database over: its hot rows become chunks, its chunks get summaries and
   * roll-ups, and the hot table goes. One transaction: a crash leaves the old layout to redo it.
   */
  private upgradeLegacy(): void {
    const db = this.db;
    db.transaction(() => {
      const sites = new Map<number, string>();
      for (const r of db.prepare('SELECT id, site FROM series').iterate() as Iterable<{ id: number; site: string }>) sites.set(r.id, r.site);
      const update = db.prepare('UPDATE chunks SET value_count = ?, min = ?, max = ?, sum = ? WHERE id = ?');
      for (const r of db.prepare('SELECT id, point_id, data FROM chunks').all() as { id: number; point_id: number; data: Buffer }[]) {
        const cols = decodeChunk(r.data);
        const s = summarize(cols);
        update.run(s.valueCount, s.valueCount ? s.min : null, s.valueCount ? s.max : null, s.valueCount ? s.sum : 0, r.id);
        this.writeRollups(r.point_id, cols, 0, cols.count);
        this.stmt.upsertUsage!.run(sites.get(r.point_id) ?? '', r.data.length, cols.count);
      }
      const hot = db.prepare('SELECT point_id, ts, value, quality FROM samples_hot ORDER BY id').all() as { point_id: number; ts: number; value: number | null; quality: number }[];
      const byPoint = new Map<number, PointHead>();
      for (const r of hot) {
        let h = byPoint.get(r.point_id);
        if (!h) byPoint.set(r.point_id, (h = new PointHead({ id: r.point_id, site: sites.get(r.point_id) ?? '', asset: '', point: '' })));
        h.add(r.ts, r.value ?? NaN, r.quality, 0, 0);
      }
      for (const h of byPoint.values()) this.writeChunks(h.pointId, sites.get(h.pointId) ?? '', h.columns());
      db.exec('DROP TABLE samples_hot');
    })();
  }

  // ---------------------------------------------------------------- points

  private remember(ref: PointRef): PointHead {
    const a = this.assetPoints(ref.site, ref.asset);
    const head = new PointHead(ref);
    a.byName.set(ref.point, head);
    this.heads.set(ref.id, head);
    return head;
  }

  private assetPoints(site: string, asset: string): AssetPoints {
    const key = `${site}\u0000${asset}`;
    let a = this.assets.get(key);
    if (!a) this.assets.set(key, (a = { site, asset, byName: new Map() }));
    return a;
  }

  private createPoint(a: AssetPoints, point: string): PointHead {
    const id = Number(this.stmt.insertSeries!.run(a.site, a.asset, point).lastInsertRowid);
    this.stmt.insertPointState!.run(id);
    return this.remember({ id, site: a.site, asset: a.asset, point });
  }

  private forget(ref: PointRef): void {
    this.assets.get(`${ref.site}\u0000${ref.asset}`)?.byName.delete(ref.point);
    this.heads.delete(ref.id);
  }

  private siteCounters(site: string): SiteCounters {
    let c = this.sites.get(site);
    if (!c) this.sites.set(site, (c = { chunkBytes: 0, chunkSamples: 0, rate: new SiteRate() }));
    return c;
  }

  async pointId(site: string, asset: string, point: string): Promise<number> {
    this.assertOpen();
    const known = this.findPointId(site, asset, point);
    if (known !== undefined) return known;
    return this.lock.run(() => {
      this.assertOpen();
      const a = this.assetPoints(site, asset);
      return (a.byName.get(point) ?? this.createPoint(a, point)).pointId;
    });
  }

  findPointId(site: string, asset: string, point: string): number | undefined {
    return this.assets.get(`${site}\u0000${asset}`)?.byName.get(point)?.pointId;
  }

  pointCount(site: string, asset: string): number {
    return this.assets.get(`${site}\u0000${asset}`)?.byName.size ?? 0;
  }

  describePoint(pointId: number): PointRef | undefined {
    const h = this.heads.get(pointId);
    return h ? { ...h.ref } : undefined;
  }

  pointsOf(site: string, asset: string): PointRef[] {
    const a = this.assets.get(`${site}\u0000${asset}`);
    return a ? [...a.byName.values()].map((h) => ({ ...h.ref })) : [];
  }

  latest(pointId: number): LatestValue | undefined {
    const v = this.heads.get(pointId)?.latest;
    return v ? { ...v } : undefined;
  }

  private noteLatest(head: PointHead, ts: number, value: number, quality: number): void {
    if (head.noteLatest(ts, value, quality)) this.dirtyLatest.push(head);
  }

  private assertOpen(): void {
    if (this.closed) throw new TelemetryError('telemetry_closed', 'the telemetry store is closed');
  }

  // ---------------------------------------------------------------- append

  appendBatches(batches: readonly IncomingBatch[], admitPoints?: PointAdmission): Promise<AppendResult> {
    return this.lock.run(() => this.appendLocked(batches, admitPoints));
  }

  /** The append, synchronously (SQLite's transactions are), holding the write lock. */
  private appendLocked(batches: readonly IncomingBatch[], admitPoints?: PointAdmission): AppendResult {
    this.assertOpen();
    const out: AppendResult = { stored: [], duplicates: [], conflicts: [], refused: [], samplesStored: 0 };
    if (batches.length === 0) return out;
    const created: PointRef[] = [];
    this.createdSources.length = 0;
    this.log.reset();
    this.logHeads.length = 0;
    try {
      this.appendTx(batches, out, created, admitPoints);
    } catch (err) {
      // Rolled back: point ids and batch sources created inside the transaction no longer exist.
      for (const ref of created) this.forget(ref);
      for (const key of this.createdSources) this.sources.delete(key);
      throw err;
    }
    // Heads and latest values only after the commit: a rolled-back batch is never readable.
    const logId = this.lastLogId;
    const now = this.now();
    const c = this.log.columns();
    const heads = this.logHeads;
    for (let i = 0; i < c.count; i++) {
      const head = heads[i]!;
      const ts = c.ts[i]!;
      const value = c.value[i]!;
      const quality = c.quality[i]!;
      head.add(ts, value, quality, logId, now);
      if (head.noteLatest(ts, value, quality)) this.dirtyLatest.push(head);
      if (head.count === this.sealSamples || head.maxTs - head.minTs >= this.sealSpanMs) this.toSeal.add(head.pointId);
    }
    for (const ref of out.stored) {
      const source = this.sources.get(`${ref.deviceId}\u0000${ref.epoch}`)!;
      if (ref.seq > (this.seqHigh.get(source) ?? -1)) this.seqHigh.set(source, ref.seq);
    }
    this.batchRows += out.stored.length;
    return out;
  }

  private appendInTransaction(batches: readonly IncomingBatch[], out: AppendResult, created: PointRef[], admit: PointAdmission | undefined): void {
    const storedAt = this.now();
    const ids = this.scratchIds;
    const log = this.log;
    for (const b of batches) {
      const ref: BatchRef = { deviceId: b.deviceId, epoch: b.epoch, seq: b.seq };
      const fingerprint = fingerprintOf(b);
      const source = this.sourceOf(b.deviceId, b.epoch);
      if (this.stmt.insertBatch!.run(source, b.seq, storedAt, b.samples.length, fingerprint).changes !== 1) {
        const known = this.stmt.batchFingerprint!.get(source, b.seq) as number | null | undefined;
        // NULL: stored before fingerprints existed; a redelivery is then the only explanation we can check.
        if (known === null || known === undefined || known === fingerprint) out.duplicates.push(ref);
        else out.conflicts.push(ref);
        continue;
      }
      const a = this.assetPoints(b.site, b.asset);
      const n = b.samples.length;
      // Resolve every point once; ask before creating any.
      let firstNew = -1;
      for (let i = 0; i < n; i++) {
        const head = a.byName.get(b.samples[i]!.point);
        ids[i] = head;
        if (head === undefined && firstNew < 0) firstNew = i;
      }
      if (firstNew >= 0) {
        const names = new Set<string>();
        for (let i = firstNew; i < n; i++) if (ids[i] === undefined) names.add(b.samples[i]!.point);
        const refusal = admit?.(b, names.size, a.byName.size);
        if (refusal !== undefined) {
          this.stmt.deleteBatch!.run(source, b.seq);
          out.refused.push({ ref, reason: refusal });
          continue;
        }
      }
      out.stored.push(ref);
      out.samplesStored += n;
      // Counted in the transaction; a rollback only makes the rate estimate briefly high.
      this.siteCounters(b.site).rate.count(n, storedAt);
      const heads = this.logHeads;
      for (let i = 0; i < n; i++) {
        const s = b.samples[i]!;
        let head = ids[i];
        if (head === undefined) {
          head = a.byName.get(s.point);
          if (head === undefined) {
            head = this.createPoint(a, s.point);
            created.push(head.ref);
          }
        }
        heads[log.count] = head;
        log.push(head.pointId, s.ts, toStored(s.value), s.quality);
      }
    }
    if (log.count > 0) this.lastLogId = Number(this.stmt.insertLog!.run(storedAt, log.encode()).lastInsertRowid);
  }

  /** Inside the append transaction: the source id of (device, epoch), created on first use. */
  private sourceOf(deviceId: string, epoch: string): number {
    const key = `${deviceId}\u0000${epoch}`;
    let id = this.sources.get(key);
    if (id === undefined) {
      id = Number(this.stmt.insertSource!.run(deviceId, epoch).lastInsertRowid);
      this.sources.set(key, id);
      this.createdSources.push(key);
    }
    return id;
  }

  // ---------------------------------------------------------------- sealing

  private wantsSeal(head: PointHead): boolean {
    return head.count >= this.sealSamples || (head.count > 0 && head.maxTs - head.minTs >= this.sealSpanMs);
  }

  /**
   * Seals waiting heads, a transaction per group, until nothing waits or `budgetMs` has passed
   * (then the rest waits for the next slice, and ingest gets the thread meanwhile).
   */
  sealSome(budgetMs = Infinity, force = false): Promise<SealResult> {
    return this.lock.run(() => this.sealLocked(budgetMs, force));
  }

  private sealLocked(budgetMs: number, force: boolean): SealResult {
    this.assertOpen();
    const total: SealResult = { pointsSealed: 0, chunksWritten: 0, samplesSealed: 0 };
    const started = performance.now();
    const candidates = force ? [...this.heads.keys()] : [...this.toSeal];
    let at = 0;
    while (at < candidates.length) {
      const group: PointHead[] = [];
      while (at < candidates.length && group.length < 64) {
        const pid = candidates[at++]!;
        const head = this.heads.get(pid);
        if (!head || head.count === 0) { this.toSeal.delete(pid); continue; }
        if (this.readers.has(pid)) continue; // a read holds this point: seal it next time
        if (!force && !this.wantsSeal(head)) { this.toSeal.delete(pid); continue; }
        group.push(head);
      }
      if (group.length === 0) continue;
      const r = this.sealGroup(group);
      total.pointsSealed += r.pointsSealed;
      total.chunksWritten += r.chunksWritten;
      total.samplesSealed += r.samplesSealed;
      if (performance.now() - started >= budgetMs) break;
    }
    return total;
  }

  /** Seals every non-empty head now, whatever its size (shutdown, tests, tools). */
  sealAll(): Promise<SealResult> {
    return this.sealSome(Infinity, true);
  }

  private sealGroup(group: PointHead[]): SealResult {
    const through = this.lastLogId;
    let chunks = 0;
    let samples = 0;
    const usage = new Map<string, { bytes: number; samples: number }>();
    const chunkIds: number[] = [];
    this.db.transaction(() => {
      for (const head of group) {
        const site = head.ref.site;
        const cols = head.columns();
        const written = this.writeChunks(head.pointId, site, cols, chunkIds);
        chunks += written.chunks;
        samples += cols.count;
        const u = usage.get(site) ?? { bytes: 0, samples: 0 };
        u.bytes += written.bytes;
        u.samples += cols.count;
        usage.set(site, u);
        this.stmt.setSealed!.run(through, head.pointId);
        if (head.spilledThrough > 0) this.stmt.deleteSpill!.run(head.pointId);
      }
    })();
    for (const id of chunkIds) if (id > this.maxChunkId) this.maxChunkId = id;
    for (const [site, u] of usage) {
      const c = this.siteCounters(site);
      c.chunkBytes += u.bytes;
      c.chunkSamples += u.samples;
    }
    for (const head of group) {
      this.sealedThrough.set(head.pointId, through);
      head.clear();
      this.toSeal.delete(head.pointId);
    }
    this.events.emit('sealed', group.length);
    return { pointsSealed: group.length, chunksWritten: chunks, samplesSealed: samples };
  }

  /** Inside a transaction: the chunks of sorted columns (split by size and span), their roll-ups and usage. */
  private writeChunks(pointId: number, site: string, cols: SampleColumns, ids?: number[]): { chunks: number; bytes: number } {
    let chunks = 0;
    let bytes = 0;
    forEachChunk(cols, (start, end) => {
      const data = encodeChunk(cols, start, end);
      const s = summarize(cols, start, end);
      const id = Number(this.stmt.insertChunk!.run(pointId, s.firstTs, s.lastTs, s.count, s.valueCount,
        s.valueCount > 0 ? s.min : null, s.valueCount > 0 ? s.max : null, s.valueCount > 0 ? s.sum : 0, data).lastInsertRowid);
      ids?.push(id);
      this.writeRollups(pointId, cols, start, end);
      this.afterChunkWritten?.();
      chunks++;
      bytes += data.length;
    });
    this.stmt.upsertUsage!.run(site, bytes, cols.count);
    return { chunks, bytes };
  }

  /** Merges samples [start, end) into the minute and hour roll-ups (non-null values only). */
  private writeRollups(pointId: number, cols: SampleColumns, start: number, end: number): void {
    ROLLUP_RESOLUTIONS.forEach((r, k) => {
      const upsert = this.stmt[`rollup${k}`]!;
      forEachRollup(cols, start, end, r, (ts, min, max, sum, n) => upsert.run(pointId, ts, min, max, sum, n));
    });
  }

  // ---------------------------------------------------------------- checkpoint: spill and truncate

  /**
   * Copies heads whose oldest sample arrived more than spillAfterMs ago to the spill table, then
   * deletes the log rows no head needs any more. Returns the log rows deleted.
   */
  checkpoint(): Promise<number> {
    return this.lock.run(() => this.checkpointLocked());
  }

  private checkpointLocked(): number {
    this.assertOpen();
    const now = this.now();
    const laggards: PointHead[] = [];
    for (const h of this.heads.values()) {
      if (h.count > 0 && h.firstLogId !== Infinity && h.firstArrivalAt <= now - this.spillAfterMs && !this.readers.has(h.pointId)) laggards.push(h);
    }
    if (laggards.length > 0) {
      const through = this.lastLogId;
      this.db.transaction(() => {
        for (const h of laggards) {
          const c = h.columns();
          this.stmt.upsertSpill!.run(h.pointId, through, encodeChunk(c, 0, c.count));
        }
      })();
      for (const h of laggards) {
        h.firstLogId = Infinity;
        h.spilledThrough = through;
        h.firstArrivalAt = Infinity;
      }
    }
    let lowest = this.lastLogId + 1;
    for (const h of this.heads.values()) if (h.count > 0 && h.firstLogId < lowest) lowest = h.firstLogId;
    // The persisted latest values must not lag behind samples that leave the log.
    this.flushLatestLocked();
    return this.stmt.truncateLog!.run(lowest).changes;
  }

  // ---------------------------------------------------------------- retention and pruning

  private policyOf(site: string): RetentionPolicy {
    return this.retention.of(site);
  }

  /**
   * Deletes raw chunks and roll-ups past their site's retention for up to `maxPoints` points,
   * continuing where the last step stopped. Returns whether a whole pass over the points ended.
   */
  retentionStep(maxPoints = RETENTION_POINTS_PER_STEP): Promise<{ done: boolean; chunksDeleted: number }> {
    return this.lock.run(() => this.retentionLocked(maxPoints));
  }

  private retentionLocked(maxPoints: number): { done: boolean; chunksDeleted: number } {
    this.assertOpen();
    const now = this.now();
    const ids = [...this.heads.keys()].sort((a, b) => a - b);
    let chunksDeleted = 0;
    let i = ids.findIndex((id) => id > this.retentionCursor);
    if (i < 0) i = ids.length;
    const end = Math.min(ids.length, i + maxPoints);
    this.db.transaction(() => {
      for (; i < end; i++) {
        const id = ids[i]!;
        const site = this.heads.get(id)!.ref.site;
        const p = this.policyOf(site);
        const cutoff = now - p.rawMs;
        const gone = this.stmt.chunksToExpire!.get(id, cutoff, cutoff) as { bytes: number; samples: number };
        if (gone.samples > 0) {
          chunksDeleted += this.stmt.expireChunks!.run(id, cutoff, cutoff).changes;
          this.stmt.upsertUsage!.run(site, -gone.bytes, -gone.samples);
          const c = this.siteCounters(site);
          c.chunkBytes -= gone.bytes;
          c.chunkSamples -= gone.samples;
        }
        this.stmt.expireRollup0!.run(id, now - p.minuteMs);
        this.stmt.expireRollup1!.run(id, now - p.hourMs);
        this.retentionCursor = id;
      }
    })();
    const done = end >= ids.length;
    if (done) this.retentionCursor = -1;
    return { done, chunksDeleted };
  }

  /**
   * The de-duplication table without end: each call marks the highest seq stored per (device,
   * epoch) since the last call, and deletes the batch rows covered by marks older than
   * dedupKeepMs. Such a batch's samples are older than ingest accepts, so its redelivery is
   * refused for its age and can never be stored twice.
   */
  pruneBatches(): Promise<number> {
    return this.lock.run(() => this.pruneLocked());
  }

  private pruneLocked(): number {
    this.assertOpen();
    const now = this.now();
    let deleted = 0;
    this.db.transaction(() => {
      for (const [source, seq] of this.seqHigh) this.stmt.insertMark!.run(source, seq, now);
      this.seqHigh.clear();
      const cutoff = now - this.dedupKeepMs;
      for (const m of this.stmt.oldMarks!.all(cutoff) as { source: number; seq: number }[]) {
        deleted += this.stmt.pruneBatches!.run(m.source, m.seq).changes;
        this.stmt.pruneMarks!.run(m.source, cutoff);
      }
    })();
    this.batchRows -= deleted;
    return deleted;
  }

  // ---------------------------------------------------------------- reads

  /** Registers a read of these points (sealing them waits) and takes their head snapshots. */
  private beginRead(pointIds: readonly number[], from: number, to: number): { heads: SampleColumns[]; watermark: number; end: () => void } {
    this.assertOpen();
    for (const id of pointIds) this.readers.set(id, (this.readers.get(id) ?? 0) + 1);
    const heads = pointIds.map((id) => this.heads.get(id)?.snapshot(from, to) ?? EMPTY_HEAD);
    let ended = false;
    return {
      heads, watermark: this.maxChunkId,
      end: () => {
        if (ended) return;
        ended = true;
        for (const id of pointIds) {
          const n = (this.readers.get(id) ?? 1) - 1;
          if (n <= 0) this.readers.delete(id); else this.readers.set(id, n);
        }
      },
    };
  }

  async querySamples(pointId: number, from: number, to: number, limit: number): Promise<StoredSample[]> {
    checkRange(from, to);
    checkLimit(limit);
    const read = this.beginRead([pointId], from, to);
    try {
      const task = { op: 'raw' as const, pointId, from, to, limit, head: read.heads[0]!, watermark: read.watermark };
      const c = this.pool ? await this.pool.raw(task) : readRaw(this.localReader, task);
      const out: StoredSample[] = new Array(c.count);
      for (let i = 0; i < c.count; i++) {
        const v = c.value[i]!;
        out[i] = { ts: c.ts[i]!, value: Number.isNaN(v) ? null : v, quality: c.quality[i]! };
      }
      return out;
    } finally {
      read.end();
    }
  }

  async queryBuckets(pointId: number, from: number, to: number, bucketMs: number): Promise<SampleBucket[]> {
    checkRange(from, to);
    checkBucket(bucketMs);
    const read = this.beginRead([pointId], from, to);
    try {
      const task = { op: 'buckets' as const, pointId, from, to, bucketMs, head: read.heads[0]!, watermark: read.watermark };
      const b: BucketColumns = this.pool ? await this.pool.buckets(task) : readBuckets(this.localReader, task);
      const out: SampleBucket[] = new Array(b.count);
      for (let i = 0; i < b.count; i++) out[i] = { ts: b.ts[i]!, min: b.min[i]!, avg: b.sum[i]! / b.n[i]!, max: b.max[i]!, count: b.n[i]! };
      return out;
    } finally {
      read.end();
    }
  }

  async *exportSeries(request: SeriesExport): AsyncGenerator<Uint8Array> {
    checkRange(request.from, request.to);
    if (request.bucketMs !== undefined) checkBucket(request.bucketMs);
    const read = this.beginRead(request.points.map((p) => p.id), request.from, request.to);
    try {
      const task = { op: 'export' as const, request, heads: read.heads, watermark: read.watermark };
      if (this.pool) yield* this.pool.export(task);
      else yield* exportPieces(this.localReader, task);
    } finally {
      read.end();
    }
  }

  async storageReport(): Promise<StorageReport> {
    this.assertOpen();
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    let chunkBytes = 0;
    let chunkSamples = 0;
    const now = this.now();
    const sites: SiteStorage[] = [];
    for (const [site, c] of [...this.sites].sort((a, b) => a[0].localeCompare(b[0]))) {
      chunkBytes += c.chunkBytes;
      chunkSamples += c.chunkSamples;
      const rate = c.rate.perSecond(now);
      const retention = this.policyOf(site);
      const perSample = c.chunkSamples > 0 ? c.chunkBytes / c.chunkSamples : NaN;
      sites.push({
        site, retention, chunkBytes: c.chunkBytes, chunkSamples: c.chunkSamples, samplesPerSecond: rate,
        projectedRawBytes: Number.isNaN(perSample) ? 0 : Math.round(rate * (retention.rawMs / 1000) * perSample),
      });
    }
    let headSamples = 0;
    for (const h of this.heads.values()) headSamples += h.count;
    return {
      fileBytes: pages * pageSize, freeBytes: free * pageSize, chunkBytes, chunkSamples,
      bytesPerSample: chunkSamples > 0 ? chunkBytes / chunkSamples : NaN, headSamples, batchRows: this.batchRows, sites,
    };
  }

  // ---------------------------------------------------------------- maintenance

  /** Writes changed latest values to the database (they live in memory between flushes). */
  flushLatest(): Promise<void> {
    return this.lock.run(() => this.flushLatestLocked());
  }

  private flushLatestLocked(): void {
    this.assertOpen();
    if (this.dirtyLatest.length === 0) return;
    const heads = this.dirtyLatest;
    this.dirtyLatest = [];
    try {
      this.db.transaction(() => {
        for (const h of heads) {
          const v = h.latest!;
          this.stmt.upsertLatest!.run(h.pointId, v.ts, v.value, v.quality);
        }
      })();
    } catch (err) {
      this.dirtyLatest.push(...heads); // still to write
      throw err;
    }
    for (const h of heads) h.latestDirty = false;
  }

  /** Gives freed pages back to the file system a little at a time (auto_vacuum = INCREMENTAL). */
  private vacuumSome(): void {
    if ((this.db.pragma('auto_vacuum', { simple: true }) as number) !== 2) return;
    if ((this.db.pragma('freelist_count', { simple: true }) as number) > 1024) this.db.pragma('incremental_vacuum(2048)');
  }

  /**
   * Sealing on an unref'd timer, in slices of at most `sliceMs` with the event loop (and the write
   * lock, FIFO: appends queued behind a slice go next) given back between them; checkpoints,
   * latest-value flushes, retention and pruning at their own pace.
   */
  startMaintenance(options: MaintenanceOptions = {}): void {
    if (this.maintenanceTimer) return;
    const sliceMs = options.sliceMs ?? 15;
    const onError = options.onError ?? (() => undefined);
    const safely = async (step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        // Closing while a step waited for the lock is not a failure.
        if (!this.closed) onError(err);
      }
    };
    let lastCheckpoint = this.now();
    let lastLatest = this.now();
    let lastRetention = this.now() - RETENTION_EVERY_MS + 60_000; // the first pass a minute after start
    let retentionRunning = false;
    let sealing = false;
    let checkpointing = false;
    const sealSlice = async (): Promise<void> => {
      let more = false;
      await safely(async () => {
        await this.sealSome(sliceMs);
        more = this.toSeal.size > 0 && [...this.toSeal].some((id) => !this.readers.has(id));
      });
      if (more && !this.closed) setImmediate(() => void sealSlice());
      else sealing = false;
    };
    const retention = async (): Promise<void> => {
      let done = false;
      while (!done && !this.closed) {
        await safely(async () => { done = (await this.retentionStep()).done; });
        if (!done) await new Promise((r) => setImmediate(r));
      }
      await safely(async () => { await this.pruneBatches(); });
      retentionRunning = false;
    };
    this.maintenanceTimer = setInterval(() => {
      if (this.closed) return;
      if (!sealing) {
        sealing = true;
        void sealSlice();
      }
      const now = this.now();
      if (!checkpointing && now - lastCheckpoint >= CHECKPOINT_EVERY_MS) {
        lastCheckpoint = now;
        checkpointing = true;
        // Heads that span too long wait for a seal too, though no sample arrived to notice it.
        for (const h of this.heads.values()) if (this.wantsSeal(h)) this.toSeal.add(h.pointId);
        void safely(async () => {
          await this.checkpoint();
          await this.lock.run(() => { if (!this.closed) this.vacuumSome(); });
        }).finally(() => { checkpointing = false; });
      }
      if (now - lastLatest >= LATEST_FLUSH_EVERY_MS) {
        lastLatest = now;
        void safely(() => this.flushLatest());
      }
      if (!retentionRunning && now - lastRetention >= RETENTION_EVERY_MS) {
        lastRetention = now;
        retentionRunning = true;
        void retention();
      }
    }, options.intervalMs ?? 250);
    this.maintenanceTimer.unref();
  }

  stopMaintenance(): void {
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.maintenanceTimer = undefined;
  }

  /**
   * Stops maintenance, persists latest values and the read workers. Heads stay in the log (the
   * next open replays them); the database is closed by its owner.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopMaintenance();
    // Behind the lock: after every write queued before the close, and before the database closes.
    await this.lock.run(() => {
      if (this.closed) return;
      this.flushLatestLocked();
      this.closed = true;
    });
    await this.pool?.close();
  }
}

/** The telemetry tables come from the server's migrations (layout.ts), run before any store is built. */
function assertMigrated(db: SqliteDatabase): void {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").get();
  const row = table === undefined ? undefined : db.prepare("SELECT version FROM schema_versions WHERE domain = 'telemetry'").get() as { version: number } | undefined;
  if (row === undefined || row.version < TELEMETRY_MIGRATIONS.length) {
    throw new Error(`the telemetry tables are not migrated (version ${row?.version ?? 0} of ${TELEMETRY_MIGRATIONS.length}): run migrateServerDatabase before building the store`);
  }
}

