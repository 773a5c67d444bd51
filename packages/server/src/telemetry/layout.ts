/**
 * The store's layout on disk (ARCHITECTURE.md §5) and its migrations, for both engines.
 *
 * SQLite (SqliteTelemetryStore):
 *
 *   series       point ids: (site, asset, point) -> id
 *   batch_sources  (device, queue epoch) -> a small integer, so a batch row costs ~25 bytes
 *   batches      de-duplication: one row per stored batch, keyed (source, seq), with a fingerprint
 *   batch_rows   a view of batches with the device and epoch spelled out (for tools and tests)
 *   batch_marks  per source, the highest seq stored at a time: what lets old batch rows go
 *   sample_log   the write-ahead log: one row per append, every sample of it in columns
 *   head_spill   heads of points that report rarely, so the log need not keep them
 *   point_state  per point, the log row up to which its samples are sealed into chunks
 *   chunks       sealed per-point blocks, compressed, with min/max/sum/count; by (point, start)
 *   rollup_60000, rollup_3600000   per point and minute / hour: min, max, sum, count
 *   latest       the latest value per point (also kept in memory)
 *   site_usage   per site, bytes and samples in chunks (for the storage report)
 *
 * PostgreSQL (PostgresTelemetryStore) keeps series, batch_sources, batches, batch_rows,
 * batch_marks, chunks, the roll-ups, latest and site_usage with the same meaning, and instead of
 * the log and the in-memory heads (which would be one replica's alone):
 *
 *   samples      raw samples as they arrive, range-partitioned on ts into windows (an hour by
 *                default) created ahead by maintenance, plus `samples_late` (the DEFAULT
 *                partition) for samples whose window is gone or not there yet. Indexed by
 *                (point_id, ts) so a read of the newest hour finds one point's rows.
 *   telemetry_partitions  every partition maintenance made: its table, range and, for a raw
 *                window detached for compaction, the point id below which it is compacted.
 *
 * chunks and rollup_60000 are range-partitioned too (on start_ts / ts, CHUNK_PARTITION_MS wide),
 * so retention drops whole partitions and deletes per site only where sites' policies differ.
 */
import type { SqliteDatabase } from '../db/database.ts';
import type { SqlMigration } from '../db/sql-migrations.ts';

/** A chunk never spans more than this, so a range read bounds its index scan. */
export const MAX_CHUNK_SPAN_MS = 2 * 3_600_000;
/** A head is sealed once it holds this many samples... */
export const SEAL_SAMPLES = 240;
/** ...or once its samples span this long. */
export const SEAL_SPAN_MS = MAX_CHUNK_SPAN_MS;
/** Samples per chunk at most (a head that grew past it is sealed as several chunks). */
export const MAX_CHUNK_SAMPLES = 4096;
/** Roll-up resolutions kept (ms). */
export const ROLLUP_RESOLUTIONS = [60_000, 3_600_000] as const;

export function rollupTable(resolution: number): string {
  return `rollup_${resolution}`;
}

/** PostgreSQL: raw windows are this wide by default (a window is compacted once it has closed). */
export const RAW_WINDOW_MS = 3_600_000;
/** PostgreSQL: width of the chunk and minute roll-up partitions that retention drops whole. */
export const CHUNK_PARTITION_MS = 30 * 86_400_000;
/** PostgreSQL: the roll-up resolutions whose table is partitioned (the hour roll-ups are small). */
export const PARTITIONED_ROLLUPS: readonly number[] = [60_000];

/**
 * Today's layout on PostgreSQL (see the file comment). Times and ids are BIGINT, blobs BYTEA,
 * reals DOUBLE PRECISION. `created_xid` / `xid` are the writing transaction's id: a replica asks for
 * the rows written by transactions it may not have seen yet (see PostgresTelemetryStore.refresh).
 */
export const POSTGRES_LAYOUT = `
  CREATE TABLE series (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site TEXT NOT NULL,
    asset TEXT NOT NULL,
    point TEXT NOT NULL,
    created_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (site, asset, point)
  );
  CREATE TABLE batch_sources (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    UNIQUE (device_id, epoch)
  );
  CREATE TABLE batches (
    source BIGINT NOT NULL, seq BIGINT NOT NULL, stored_at BIGINT NOT NULL, samples INTEGER NOT NULL, fingerprint BIGINT,
    PRIMARY KEY (source, seq)
  );
  CREATE TABLE batch_marks (source BIGINT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (source, at));
  CREATE INDEX batch_marks_by_time ON batch_marks (at);
  CREATE VIEW batch_rows AS SELECT s.device_id, s.epoch, b.seq, b.stored_at, b.samples, b.fingerprint
    FROM batches b JOIN batch_sources s ON s.id = b.source;
  CREATE TABLE samples (
    point_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    value DOUBLE PRECISION,
    quality SMALLINT NOT NULL
  ) PARTITION BY RANGE (ts);
  CREATE INDEX samples_by_point ON samples (point_id, ts);
  CREATE TABLE samples_late PARTITION OF samples DEFAULT;
  CREATE TABLE telemetry_partitions (
    name TEXT PRIMARY KEY,
    parent TEXT NOT NULL CHECK (parent IN ('samples', 'chunks', 'rollup_60000')),
    start_ts BIGINT NOT NULL,
    end_ts BIGINT NOT NULL,
    detached INTEGER NOT NULL DEFAULT 0 CHECK (detached IN (0, 1)),
    compacted_below BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE chunks (
    point_id BIGINT NOT NULL,
    start_ts BIGINT NOT NULL,
    end_ts BIGINT NOT NULL,
    count INTEGER NOT NULL,
    value_count INTEGER NOT NULL DEFAULT 0,
    min DOUBLE PRECISION,
    max DOUBLE PRECISION,
    sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    data BYTEA NOT NULL
  ) PARTITION BY RANGE (start_ts);
  CREATE INDEX chunks_by_point ON chunks (point_id, start_ts);
  CREATE TABLE rollup_60000 (
    point_id BIGINT NOT NULL, ts BIGINT NOT NULL,
    min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL, sum DOUBLE PRECISION NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (point_id, ts)
  ) PARTITION BY RANGE (ts);
  CREATE TABLE rollup_3600000 (
    point_id BIGINT NOT NULL, ts BIGINT NOT NULL,
    min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL, sum DOUBLE PRECISION NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (point_id, ts)
  );
  CREATE TABLE latest (
    point_id BIGINT PRIMARY KEY,
    ts BIGINT NOT NULL,
    value DOUBLE PRECISION,
    quality SMALLINT NOT NULL,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id()
  );
  CREATE TABLE site_usage (site TEXT PRIMARY KEY, chunk_bytes BIGINT NOT NULL, chunk_samples BIGINT NOT NULL)
`;

/**
 * The telemetry migrations of both engines (domain `telemetry`). The SQLite steps are the ones that
 * shipped, verbatim and under the same versions, so existing files keep their history. PostgreSQL
 * starts at today's layout (a PostgreSQL database never held an older one): its version 1 creates
 * it all (see POSTGRES_LAYOUT), and versions 2–4, which reshape SQLite files that predate them,
 * have nothing to do there.
 */
export const TELEMETRY_MIGRATIONS: SqlMigration[] = [
  {
    version: 1,
    description: 'series ids, batch de-duplication, hot samples, chunks, latest values',
    sqlite: `
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
    `,
    postgres: POSTGRES_LAYOUT,
  },
  {
    version: 2,
    description: 'batches keyed by (device, queue epoch, seq) with a content fingerprint',
    // Batches stored before epochs belong to the legacy epoch ''; their content is unknown (NULL).
    sqlite: `
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
    `,
    postgres: '',
  },
  {
    version: 3,
    description: 'sample log and heads, chunk summaries, roll-ups, retention and usage bookkeeping',
    sqlite: `
        CREATE TABLE sample_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE TABLE head_spill (point_id INTEGER PRIMARY KEY, through_log_id INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE TABLE point_state (point_id INTEGER PRIMARY KEY, sealed_through_log_id INTEGER NOT NULL);
        CREATE TABLE batch_marks (
          device_id TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
          PRIMARY KEY (device_id, epoch, at)
        ) WITHOUT ROWID;
        CREATE INDEX batch_marks_by_time ON batch_marks (at);
        CREATE TABLE site_usage (site TEXT PRIMARY KEY, chunk_bytes INTEGER NOT NULL, chunk_samples INTEGER NOT NULL);
        ALTER TABLE chunks ADD COLUMN value_count INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE chunks ADD COLUMN min REAL;
        ALTER TABLE chunks ADD COLUMN max REAL;
        ALTER TABLE chunks ADD COLUMN sum REAL NOT NULL DEFAULT 0;
        ${ROLLUP_RESOLUTIONS.map((r) => `CREATE TABLE ${rollupTable(r)} (
          point_id INTEGER NOT NULL, ts INTEGER NOT NULL,
          min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
          PRIMARY KEY (point_id, ts)
        ) WITHOUT ROWID;`).join('\n')}
        INSERT INTO point_state (point_id, sealed_through_log_id) SELECT id, 0 FROM series
    `,
    // Chunks and hot rows of version 1 are carried over by the store when it opens (it needs the
    // codec to do it): see SqliteTelemetryStore.upgradeLegacy.
    postgres: '',
  },
  {
    version: 4,
    description: 'batch rows keyed by a small source id, with an integer fingerprint',
    sqlite: `
      CREATE TABLE batch_sources (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, epoch TEXT NOT NULL, UNIQUE (device_id, epoch));
      INSERT INTO batch_sources (device_id, epoch) SELECT DISTINCT device_id, epoch FROM batches;
      CREATE TABLE batches_v4 (
        source INTEGER NOT NULL, seq INTEGER NOT NULL, stored_at INTEGER NOT NULL, samples INTEGER NOT NULL, fingerprint INTEGER,
        PRIMARY KEY (source, seq)
      ) WITHOUT ROWID;
      INSERT INTO batches_v4 (source, seq, stored_at, samples, fingerprint)
        SELECT s.id, b.seq, b.stored_at, b.samples, NULL FROM batches b JOIN batch_sources s ON s.device_id = b.device_id AND s.epoch = b.epoch;
      DROP TABLE batches;
      ALTER TABLE batches_v4 RENAME TO batches;
      CREATE TABLE batch_marks_v4 (source INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (source, at)) WITHOUT ROWID;
      INSERT INTO batch_marks_v4 (source, seq, at)
        SELECT s.id, m.seq, m.at FROM batch_marks m JOIN batch_sources s ON s.device_id = m.device_id AND s.epoch = m.epoch;
      DROP TABLE batch_marks;
      ALTER TABLE batch_marks_v4 RENAME TO batch_marks;
      CREATE INDEX batch_marks_by_time ON batch_marks (at);
      CREATE VIEW batch_rows AS SELECT s.device_id, s.epoch, b.seq, b.stored_at, b.samples, b.fingerprint
        FROM batches b JOIN batch_sources s ON s.id = b.source;
    `,
    postgres: '',
  },
];

/** True when the database still holds rows of the version-1 layout that the store must carry over. */
export function hasLegacyRows(db: SqliteDatabase): boolean {
  const hot = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'samples_hot'").get();
  return hot !== undefined;
}
