/**
 * The embedded telemetry store (ARCHITECTURE.md §5).
 *
 * Write path: samples are appended in arrival order to `samples_hot`, a rowid table with no other
 * index, so every insert lands at the right edge of one B-tree (the ~550k rows/s case rather than
 * the ~100k rows/s of a (point, ts) key). De-duplication costs one row per *batch* in `batches`.
 *
 * Read path: a background compactor moves hot rows older than `hotRetentionMs` (by arrival) into
 * `chunks`, one compressed blob per point and time span, indexed by (point_id, start_ts). Queries
 * read the chunks of the point plus the (small) hot table. Each compaction step is one transaction
 * that inserts the chunks and deletes exactly the hot rows it encoded, so a crash at any moment
 * leaves every sample in exactly one of the two places.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import { decodeChunk, encodeChunk, type ChunkColumns } from './chunk-codec.ts';
import { TelemetryError } from './telemetry-error.ts';
import type {
  AppendResult, BatchRef, CompactionStepResult, IncomingBatch, LatestValue, PointAdmission, PointRef, SampleBucket,
  StoredSample, TelemetryStore,
} from './telemetry-store.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'series ids, batch de-duplication, hot samples, chunks, latest values',
    up(db) {
      db.exec(`
        CREATE TABLE series (
          id INTEGER PRIMARY KEY,
          site TEXT NOT NULL,
          asset TEXT NOT NULL,
          point TEXT NOT NULL,
          UNIQUE (site, asset, point)
        );
        CREATE TABLE batches (
          device_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          stored_at INTEGER NOT NULL,
          samples INTEGER NOT NULL,
          PRIMARY KEY (device_id, seq)
        ) WITHOUT ROWID;
        -- AUTOINCREMENT: ids must never be reused after compaction empties the table, because
        -- compaction decides what is old enough by id (arrival order).
        CREATE TABLE samples_hot (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          point_id INTEGER NOT NULL,
          ts INTEGER NOT NULL,
          value REAL,
          quality INTEGER NOT NULL
        );
        CREATE TABLE chunks (
          id INTEGER PRIMARY KEY,
          point_id INTEGER NOT NULL,
          start_ts INTEGER NOT NULL,
          end_ts INTEGER NOT NULL,
          count INTEGER NOT NULL,
          data BLOB NOT NULL
        );
        CREATE INDEX chunks_by_point ON chunks (point_id, start_ts);
        CREATE TABLE latest (
          point_id INTEGER PRIMARY KEY,
          ts INTEGER NOT NULL,
          value REAL,
          quality INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    description: 'batches keyed by (device, queue epoch, seq) with a content fingerprint',
    up(db) {
      // Batches stored before epochs belong to the legacy epoch ''; their content is unknown (NULL).
      db.exec(`
        CREATE TABLE batches_v2 (
          device_id TEXT NOT NULL,
          epoch TEXT NOT NULL,
          seq INTEGER NOT NULL,
          stored_at INTEGER NOT NULL,
          samples INTEGER NOT NULL,
          fingerprint TEXT,
          PRIMARY KEY (device_id, epoch, seq)
        ) WITHOUT ROWID;
        INSERT INTO batches_v2 (device_id, epoch, seq, stored_at, samples, fingerprint)
          SELECT device_id, '', seq, stored_at, samples, NULL FROM batches;
        DROP TABLE batches;
        ALTER TABLE batches_v2 RENAME TO batches;
      `);
    },
  },
];

/**
 * What tells a redelivery from a different batch under the same identity: the sample count and
 * the first and last sample times. A redelivery carries the same samples; a restored queue that
 * reuses a sequence number carries new readings, with new times.
 */
function fingerprintOf(b: IncomingBatch): string {
  const n = b.samples.length;
  return n === 0 ? '0' : `${n}:${b.samples[0]!.ts}:${b.samples[n - 1]!.ts}`;
}

/** Rows per multi-row INSERT: one statement call binds this many samples (fewer native calls). */
const ROWS_PER_INSERT = 64;
/** A chunk never spans more than this, so a range query can bound its index scan. */
const MAX_CHUNK_SPAN_MS = 3_600_000;
const MAX_CHUNK_SAMPLES = 4_096;

export interface SqliteTelemetryStoreOptions {
  now?: () => number;
  /** Hot rows stay uncompacted at least this long after they arrived (default 60 s). */
  hotRetentionMs?: number;
  /** Hot rows moved per compaction step, i.e. per transaction (default 20 000). */
  compactionStepRows?: number;
  /** Test seam: called after each chunk is written inside a compaction transaction. */
  afterChunkWritten?: () => void;
}

export interface MaintenanceOptions {
  /** How often compaction and the latest-value flush run (default 1 s). */
  intervalMs?: number;
  /** Called when a maintenance tick throws (e.g. disk full); maintenance continues next tick. */
  onError?: (err: unknown) => void;
}

interface AssetPoints {
  site: string;
  asset: string;
  byName: Map<string, number>;
}

interface Watermark {
  rowid: number;
  at: number;
}

export class SqliteTelemetryStore implements TelemetryStore {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly hotRetentionMs: number;
  private readonly stepRows: number;
  private readonly afterChunkWritten: (() => void) | undefined;
  private closed = false;
  private maintenanceTimer: NodeJS.Timeout | undefined;

  /** site \u0000 asset → that asset's point name → id. Loaded whole at open (one row per point). */
  private readonly assets = new Map<string, AssetPoints>();
  private readonly refs = new Map<number, PointRef>();
  private readonly latestValues = new Map<number, LatestValue>();
  private readonly dirtyLatest = new Set<number>();
  /** Highest hot rowid at each append, so compaction can tell which rows arrived long enough ago. */
  private readonly watermarks: Watermark[] = [];
  private eligibleRowid = 0;

  private readonly insertBatch: Statement;
  private readonly selectBatchFingerprint: Statement;
  private readonly deleteBatch: Statement;
  /** Point ids of the batch being appended, resolved once (undefined: a point to create). */
  private readonly scratchIds: (number | undefined)[] = [];
  private readonly insertSeries: Statement;
  private readonly insertOne: Statement;
  private readonly insertMany: Statement;
  private readonly manyParams: unknown[] = new Array(ROWS_PER_INSERT * 4);
  private readonly selectHotForCompaction: Statement;
  private readonly deleteHotUpTo: Statement;
  private readonly insertChunk: Statement;
  private readonly upsertLatest: Statement;
  private readonly selectHotOfPoint: Statement;
  private readonly selectChunksOfPoint: Statement;
  private readonly appendTx: (
    batches: readonly IncomingBatch[], out: AppendResult, created: PointRef[], storedMask: boolean[],
    admit: PointAdmission | undefined,
  ) => number;
  private readonly compactTx: (upTo: number) => CompactionStepResult;

  constructor(db: SqliteDatabase, options: SqliteTelemetryStoreOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.hotRetentionMs = options.hotRetentionMs ?? 60_000;
    this.stepRows = options.compactionStepRows ?? 20_000;
    this.afterChunkWritten = options.afterChunkWritten;
    runMigrations(db, 'telemetry', MIGRATIONS);

    this.insertBatch = db.prepare(
      'INSERT OR IGNORE INTO batches (device_id, epoch, seq, stored_at, samples, fingerprint) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.selectBatchFingerprint = db.prepare('SELECT fingerprint FROM batches WHERE device_id = ? AND epoch = ? AND seq = ?').pluck();
    this.deleteBatch = db.prepare('DELETE FROM batches WHERE device_id = ? AND epoch = ? AND seq = ?');
    this.insertSeries = db.prepare('INSERT INTO series (site, asset, point) VALUES (?, ?, ?)');
    this.insertOne = db.prepare('INSERT INTO samples_hot (point_id, ts, value, quality) VALUES (?, ?, ?, ?)');
    this.insertMany = db.prepare(
      `INSERT INTO samples_hot (point_id, ts, value, quality) VALUES ${new Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?)').join(', ')}`,
    );
    this.selectHotForCompaction = db
      .prepare('SELECT rowid, point_id, ts, value, quality FROM samples_hot WHERE rowid <= ? ORDER BY rowid LIMIT ?')
      .raw(true);
    this.deleteHotUpTo = db.prepare('DELETE FROM samples_hot WHERE rowid <= ?');
    this.insertChunk = db.prepare('INSERT INTO chunks (point_id, start_ts, end_ts, count, data) VALUES (?, ?, ?, ?, ?)');
    this.upsertLatest = db.prepare(`INSERT INTO latest (point_id, ts, value, quality) VALUES (?, ?, ?, ?)
      ON CONFLICT (point_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, quality = excluded.quality
      WHERE excluded.ts >= latest.ts`);
    this.selectHotOfPoint = db
      .prepare('SELECT ts, value, quality FROM samples_hot WHERE point_id = ? AND ts >= ? AND ts <= ?')
      .raw(true);
    this.selectChunksOfPoint = db
      .prepare(`SELECT start_ts, end_ts, data FROM chunks
        WHERE point_id = ? AND start_ts >= ? AND start_ts <= ? AND end_ts >= ? ORDER BY start_ts`)
      .raw(true);

    this.appendTx = db.transaction((batches, out, created, storedMask, admit) =>
      this.appendInTransaction(batches, out, created, storedMask, admit));
    this.compactTx = db.transaction((upTo: number) => this.compactInTransaction(upTo));
    this.load();
  }

  private load(): void {
    for (const row of this.db.prepare('SELECT id, site, asset, point FROM series').iterate() as Iterable<PointRef>) {
      this.remember(row);
    }
    for (const row of this.db.prepare('SELECT point_id, ts, value, quality FROM latest').iterate() as Iterable<{
      point_id: number; ts: number; value: number | null; quality: number;
    }>) {
      this.latestValues.set(row.point_id, { ts: row.ts, value: row.value, quality: row.quality });
    }
    // Latest values flushed periodically may lag the hot table after a crash: catch up from it.
    const hotLatest = this.db.prepare(
      'SELECT point_id, MAX(ts) AS ts, value, quality FROM samples_hot GROUP BY point_id',
    ).all() as { point_id: number; ts: number; value: number | null; quality: number }[];
    for (const row of hotLatest) this.updateLatest(row.point_id, row.ts, row.value, row.quality);
    // Everything already in the hot table arrived before this open: it may be compacted now.
    const max = this.db.prepare('SELECT MAX(rowid) AS m FROM samples_hot').get() as { m: number | null };
    this.eligibleRowid = max.m ?? 0;
  }

  private remember(ref: PointRef): AssetPoints {
    const key = `${ref.site}\u0000${ref.asset}`;
    let asset = this.assets.get(key);
    if (!asset) this.assets.set(key, (asset = { site: ref.site, asset: ref.asset, byName: new Map() }));
    asset.byName.set(ref.point, ref.id);
    this.refs.set(ref.id, ref);
    return asset;
  }

  private assetPoints(site: string, asset: string): AssetPoints {
    const key = `${site}\u0000${asset}`;
    let a = this.assets.get(key);
    if (!a) this.assets.set(key, (a = { site, asset, byName: new Map() }));
    return a;
  }

  private createPoint(a: AssetPoints, point: string): PointRef {
    const id = Number(this.insertSeries.run(a.site, a.asset, point).lastInsertRowid);
    const ref = { id, site: a.site, asset: a.asset, point };
    a.byName.set(point, id);
    this.refs.set(id, ref);
    return ref;
  }

  private forget(ref: PointRef): void {
    this.assets.get(`${ref.site}\u0000${ref.asset}`)?.byName.delete(ref.point);
    this.refs.delete(ref.id);
  }

  private assertOpen(): void {
    if (this.closed) throw new TelemetryError('telemetry_closed', 'the telemetry store is closed');
  }

  appendBatches(batches: readonly IncomingBatch[], admitPoints?: PointAdmission): AppendResult {
    this.assertOpen();
    const out: AppendResult = { stored: [], duplicates: [], conflicts: [], refused: [], samplesStored: 0 };
    if (batches.length === 0) return out;
    const created: PointRef[] = [];
    const storedMask: boolean[] = [];
    let lastRowid: number;
    try {
      lastRowid = this.appendTx(batches, out, created, storedMask, admitPoints);
    } catch (err) {
      // The transaction rolled back: point ids created inside it no longer exist.
      for (const ref of created) this.forget(ref);
      throw err;
    }
    if (lastRowid > 0) this.watermarks.push({ rowid: lastRowid, at: this.now() });
    // Latest values only after commit, so a rolled-back batch never shows up as a latest value.
    batches.forEach((b, i) => {
      if (!storedMask[i]) return;
      const points = this.assetPoints(b.site, b.asset).byName;
      for (const s of b.samples) {
        const v = s.value;
        this.updateLatest(points.get(s.point)!, s.ts, typeof v === 'boolean' ? (v ? 1 : 0) : v, s.quality);
      }
    });
    return out;
  }

  private appendInTransaction(
    batches: readonly IncomingBatch[], out: AppendResult, created: PointRef[], storedMask: boolean[],
    admit: PointAdmission | undefined,
  ): number {
    const storedAt = this.now();
    const params = this.manyParams;
    const ids = this.scratchIds;
    let filled = 0;
    let lastRowid = 0;
    for (const b of batches) {
      const ref: BatchRef = { deviceId: b.deviceId, epoch: b.epoch, seq: b.seq };
      const fingerprint = fingerprintOf(b);
      const isNew = this.insertBatch.run(b.deviceId, b.epoch, b.seq, storedAt, b.samples.length, fingerprint).changes === 1;
      if (!isNew) {
        storedMask.push(false);
        const known = this.selectBatchFingerprint.get(b.deviceId, b.epoch, b.seq) as string | null | undefined;
        // NULL: stored before fingerprints existed; a redelivery is then the only explanation we can check.
        if (known === null || known === undefined || known === fingerprint) out.duplicates.push(ref);
        else out.conflicts.push(ref);
        continue;
      }
      const a = this.assetPoints(b.site, b.asset);
      // Resolve every point once; count the ones this batch would create.
      const n = b.samples.length;
      let newPoints = 0;
      let firstNew = -1;
      for (let i = 0; i < n; i++) {
        const id = a.byName.get(b.samples[i]!.point);
        ids[i] = id;
        if (id === undefined) {
          if (firstNew < 0) firstNew = i;
          newPoints++;
        }
      }
      if (newPoints > 0) {
        // Distinct new names (a batch may carry several samples of one new point).
        const names = new Set<string>();
        for (let i = firstNew; i < n; i++) if (ids[i] === undefined) names.add(b.samples[i]!.point);
        const refusal = admit?.(b, names.size, a.byName.size);
        if (refusal !== undefined) {
          this.deleteBatch.run(b.deviceId, b.epoch, b.seq);
          storedMask.push(false);
          out.refused.push({ ref, reason: refusal });
          continue;
        }
      }
      storedMask.push(true);
      out.stored.push(ref);
      out.samplesStored += n;
      for (let i = 0; i < n; i++) {
        const s = b.samples[i]!;
        let id = ids[i];
        if (id === undefined) {
          id = a.byName.get(s.point);
          if (id === undefined) {
            const r = this.createPoint(a, s.point);
            created.push(r);
            id = r.id;
          }
        }
        const v = s.value;
        params[filled++] = id;
        params[filled++] = s.ts;
        params[filled++] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
        params[filled++] = s.quality;
        if (filled === params.length) {
          lastRowid = Number(this.insertMany.run(params).lastInsertRowid);
          filled = 0;
        }
      }
    }
    for (let i = 0; i < filled; i += 4) {
      lastRowid = Number(this.insertOne.run(params[i], params[i + 1], params[i + 2], params[i + 3]).lastInsertRowid);
    }
    return lastRowid;
  }

  private updateLatest(pointId: number, ts: number, value: number | null, quality: number): void {
    const cur = this.latestValues.get(pointId);
    if (!cur) {
      this.latestValues.set(pointId, { ts, value, quality });
    } else if (ts >= cur.ts) {
      cur.ts = ts;
      cur.value = value;
      cur.quality = quality;
    } else {
      return;
    }
    this.dirtyLatest.add(pointId);
  }

  pointId(site: string, asset: string, point: string): number {
    this.assertOpen();
    const a = this.assetPoints(site, asset);
    return a.byName.get(point) ?? this.createPoint(a, point).id;
  }

  pointCount(site: string, asset: string): number {
    return this.assets.get(`${site}\u0000${asset}`)?.byName.size ?? 0;
  }

  findPointId(site: string, asset: string, point: string): number | undefined {
    return this.assets.get(`${site}\u0000${asset}`)?.byName.get(point);
  }

  describePoint(pointId: number): PointRef | undefined {
    const r = this.refs.get(pointId);
    return r ? { ...r } : undefined;
  }

  pointsOf(site: string, asset: string): PointRef[] {
    const a = this.assets.get(`${site}\u0000${asset}`);
    if (!a) return [];
    return [...a.byName.values()].map((id) => ({ ...this.refs.get(id)! }));
  }

  latest(pointId: number): LatestValue | undefined {
    const v = this.latestValues.get(pointId);
    return v ? { ...v } : undefined;
  }

  /** Writes changed latest values to the database (they live in memory between flushes). */
  flushLatest(): void {
    this.assertOpen();
    if (this.dirtyLatest.size === 0) return;
    const ids = [...this.dirtyLatest];
    this.dirtyLatest.clear();
    this.db.transaction(() => {
      for (const id of ids) {
        const v = this.latestValues.get(id)!;
        this.upsertLatest.run(id, v.ts, v.value, v.quality);
      }
    })();
  }

  /** Moves up to `compactionStepRows` hot rows that arrived more than `hotRetentionMs` ago into chunks. */
  compactStep(): CompactionStepResult {
    this.assertOpen();
    const cutoff = this.now() - this.hotRetentionMs;
    while (this.watermarks.length > 0 && this.watermarks[0]!.at <= cutoff) {
      this.eligibleRowid = Math.max(this.eligibleRowid, this.watermarks.shift()!.rowid);
    }
    if (this.eligibleRowid === 0) return { rowsMoved: 0, chunksWritten: 0 };
    return this.compactTx(this.eligibleRowid);
  }

  /** Runs compaction steps until nothing is old enough; for tests, tools and shutdown. */
  compactAll(): CompactionStepResult {
    const total = { rowsMoved: 0, chunksWritten: 0 };
    for (;;) {
      const step = this.compactStep();
      if (step.rowsMoved === 0) return total;
      total.rowsMoved += step.rowsMoved;
      total.chunksWritten += step.chunksWritten;
    }
  }

  private compactInTransaction(upTo: number): CompactionStepResult {
    const rows = this.selectHotForCompaction.all(upTo, this.stepRows) as [number, number, number, number | null, number][];
    if (rows.length === 0) return { rowsMoved: 0, chunksWritten: 0 };
    const byPoint = new Map<number, number[]>();
    for (let i = 0; i < rows.length; i++) {
      const pid = rows[i]![1];
      let list = byPoint.get(pid);
      if (!list) byPoint.set(pid, (list = []));
      list.push(i);
    }
    let chunksWritten = 0;
    for (const [pid, idx] of byPoint) {
      // Stable sort by ts: samples with equal ts keep their arrival order.
      idx.sort((x, y) => rows[x]![2] - rows[y]![2]);
      let start = 0;
      while (start < idx.length) {
        const firstTs = rows[idx[start]!]![2];
        let end = start;
        while (end < idx.length && end - start < MAX_CHUNK_SAMPLES && rows[idx[end]!]![2] - firstTs < MAX_CHUNK_SPAN_MS) end++;
        const cols: ChunkColumns = { ts: [], value: [], quality: [] };
        for (let k = start; k < end; k++) {
          const r = rows[idx[k]!]!;
          cols.ts.push(r[2]);
          cols.value.push(r[3]);
          cols.quality.push(r[4]);
        }
        const lastTs = cols.ts[cols.ts.length - 1]!;
        this.insertChunk.run(pid, firstTs, lastTs, cols.ts.length, encodeChunk(cols));
        chunksWritten++;
        this.afterChunkWritten?.();
        start = end;
      }
      // The persisted latest value must not lag behind rows that leave the hot table.
      const last = rows[idx[idx.length - 1]!]!;
      this.upsertLatest.run(pid, last[2], last[3], last[4]);
    }
    this.deleteHotUpTo.run(rows[rows.length - 1]![0]);
    return { rowsMoved: rows.length, chunksWritten };
  }

  /** Every sample of the point with from <= ts <= to, unsorted; stops early once `limit` is certain. */
  private collect(pointId: number, from: number, to: number, visit: (ts: number, v: number | null, q: number) => void,
    stopAfter?: (chunkStart: number) => boolean): void {
    for (const r of this.selectHotOfPoint.iterate(pointId, from, to) as Iterable<[number, number | null, number]>) {
      visit(r[0], r[1], r[2]);
    }
    const chunks = this.selectChunksOfPoint.all(pointId, from - MAX_CHUNK_SPAN_MS, to, from) as [number, number, Buffer][];
    for (const [startTs, , data] of chunks) {
      if (stopAfter?.(startTs)) return;
      const c = decodeChunk(data);
      for (let i = 0; i < c.ts.length; i++) {
        const t = c.ts[i]!;
        if (t >= from && t <= to) visit(t, c.value[i]!, c.quality[i]!);
      }
    }
  }

  querySamples(pointId: number, from: number, to: number, limit: number): StoredSample[] {
    this.assertOpen();
    checkRange(from, to);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new TelemetryError('telemetry_bad_query', 'limit must be a positive integer', { limit });
    }
    let out: StoredSample[] = [];
    let cutoff = Infinity;
    const trim = () => {
      out.sort((a, b) => a.ts - b.ts);
      if (out.length >= limit) {
        out.length = limit;
        cutoff = out[limit - 1]!.ts;
      }
    };
    this.collect(pointId, from, to, (ts, value, quality) => {
      if (ts <= cutoff) out.push({ ts, value, quality });
      if (out.length >= limit * 2) trim();
    }, (chunkStart) => {
      // Chunks come in start_ts order: once `limit` samples are at or before this chunk's start,
      // no later chunk can contribute.
      if (out.length >= limit) trim();
      return chunkStart > cutoff;
    });
    trim();
    out = out.slice(0, limit);
    return out;
  }

  queryBuckets(pointId: number, from: number, to: number, bucketMs: number): SampleBucket[] {
    this.assertOpen();
    checkRange(from, to);
    if (!Number.isInteger(bucketMs) || bucketMs < 1) {
      throw new TelemetryError('telemetry_bad_query', 'bucket width must be a positive integer of milliseconds', { bucketMs });
    }
    const buckets = new Map<number, { min: number; max: number; sum: number; count: number }>();
    this.collect(pointId, from, to, (ts, value) => {
      if (value === null) return;
      const start = Math.floor(ts / bucketMs) * bucketMs;
      const b = buckets.get(start);
      if (!b) {
        buckets.set(start, { min: value, max: value, sum: value, count: 1 });
      } else {
        if (value < b.min) b.min = value;
        if (value > b.max) b.max = value;
        b.sum += value;
        b.count++;
      }
    });
    return [...buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([ts, b]) => ({ ts, min: b.min, avg: b.sum / b.count, max: b.max, count: b.count }));
  }

  /**
   * Runs compaction and the latest-value flush in the background on an unref'd timer. A tick runs
   * one compaction step (one short transaction of at most `compactionStepRows` rows); while steps
   * come back full it runs the next one from `setImmediate`, so ingest gets the event loop between
   * steps and compaction still keeps up with a sustained ingest rate.
   */
  startMaintenance(options: MaintenanceOptions = {}): void {
    if (this.maintenanceTimer) return;
    let ticks = 0;
    let running = false;
    const step = (): void => {
      if (this.closed) {
        running = false;
        return;
      }
      try {
        if (this.compactStep().rowsMoved >= this.stepRows) {
          setImmediate(step);
          return;
        }
      } catch (err) {
        options.onError?.(err);
      }
      running = false;
    };
    this.maintenanceTimer = setInterval(() => {
      if (!running) {
        running = true;
        step();
      }
      try {
        if (++ticks % 5 === 0) this.flushLatest();
      } catch (err) {
        options.onError?.(err);
      }
    }, options.intervalMs ?? 1_000);
    this.maintenanceTimer.unref();
  }

  stopMaintenance(): void {
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.maintenanceTimer = undefined;
  }

  /** Stops maintenance and persists latest values. Does not close the database (its owner does). */
  close(): void {
    if (this.closed) return;
    this.stopMaintenance();
    this.flushLatest();
    this.closed = true;
  }
}

function checkRange(from: number, to: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) {
    throw new TelemetryError('telemetry_bad_query', 'the time range must have from <= to (epoch milliseconds)', { from, to });
  }
}
