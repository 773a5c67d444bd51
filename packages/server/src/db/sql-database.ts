/**
 * The server's relational database, whichever engine holds it: the embedded SQLite file or a
 * PostgreSQL server (issue 12). Store implementations receive a {@link SqlDatabase}; domain code
 * never does — it sees its store port only.
 */
import type { Kysely } from 'kysely';
import type { SqliteDatabase } from './database.ts';
import type { SqliteWriteLock } from './sqlite-write-lock.ts';

export type SqlEngine = 'sqlite' | 'postgres';

/**
 * What store implementations query through: kysely over either dialect. `Kysely<any>` because
 * each store declares its own table types and narrows it (`db as Kysely<FleetTables>`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type SqlExecutor = Kysely<any>;

export interface SqlDatabase {
  readonly engine: SqlEngine;
  /** Queries outside a transaction; `.transaction()` opens one. */
  readonly db: SqlExecutor;
  /**
   * SQLite only: the raw handle and the write lock every write on it holds, for the telemetry
   * hot path (prepared statements in one synchronous transaction).
   */
  readonly sqlite?: { handle: SqliteDatabase; lock: SqliteWriteLock };
  /** PostgreSQL only: runs raw SQL on a pooled connection, for bulk paths kysely does not cover. */
  readonly postgres?: PostgresPoolAccess;
  close(): Promise<void>;
}

/** A narrow view of a pg pool: a client checked out for `work` and returned after. */
export interface PostgresPoolAccess {
  withClient<T>(work: (client: PostgresClient) => Promise<T>): Promise<T>;
}

/** The part of pg's client that raw PostgreSQL code uses; pg's own types stay in postgres-database.ts. */
export interface PostgresClient {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/**
 * Runs `work` in a transaction on `exec`: a new one, or the one `exec` already is (store methods
 * that need several statements call this, so they compose inside a caller's unit of work).
 */
export async function inTransaction<T>(exec: SqlExecutor, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  if (exec.isTransaction) return work(exec);
  return exec.transaction().execute(work);
}
