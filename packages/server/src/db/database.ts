/**
 * The server's embedded database: one SQLite file (ARCHITECTURE.md §5). Only db/ (which wraps it
 * as a SqlDatabase for the kysely stores) and the SQLite telemetry store's hot path see this
 * handle's type; every other domain reaches storage through its store port.
 */
import Database from 'better-sqlite3';

/** The raw better-sqlite3 handle (db/ and the SQLite telemetry store only). */
export type SqliteDatabase = Database.Database;

export interface OpenDatabaseOptions {
  /**
   * `NORMAL` (default) or `FULL`; see the comment in {@link openDatabase}.
   * Choose `FULL` when an acknowledged batch must also survive power loss or an OS crash.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a writer waits for a lock held by another connection before failing (ms). */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) a database file in WAL mode.
 *
 * Durability and the ack contract: ingest acknowledges a batch only after the transaction that
 * stored it has committed, and a guardian deletes a batch only after that acknowledgement. With
 * `journal_mode=WAL` + `synchronous=NORMAL`, a commit appends the transaction's pages to the WAL
 * with write(2) before `COMMIT` returns; the WAL is fsync'd only at checkpoints. Once write(2)
 * has returned, the bytes are in the kernel's page cache, so they survive the *process* dying in
 * any way (kill -9, OOM kill, a crash in native code): the next open replays the WAL. That is the
 * failure the ack contract is tested against, so NORMAL keeps it at a fraction of FULL's cost
 * (FULL fsyncs the WAL on every commit: one disk flush per ingest transaction).
 * What NORMAL does not cover is power loss or a kernel crash: the last transactions since the
 * previous checkpoint may then be lost (the database stays consistent, it only rolls back).
 * A guardian that had already deleted those batches could not resend them, so deployments that
 * must keep "acked means stored" across power loss should pass `synchronous: 'FULL'`.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  const db = new Database(file);
  try {
    // A new file frees pages incrementally (the telemetry store's retention gives them back a
    // little at a time); it can only be chosen before the first table exists.
    if ((db.pragma('page_count', { simple: true }) as number) === 0) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5_000))}`);
    db.pragma('foreign_keys = ON');
    // Page cache of ~64 MiB (negative = KiB): the hot table's tail and the chunk index stay in memory.
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = MEMORY');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
