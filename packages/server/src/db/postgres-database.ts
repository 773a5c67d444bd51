/**
 * The scale-out engine: a PostgreSQL server reached through a pg pool (issue 12). pg's types stay in
 * this file; stores see kysely and {@link PostgresClient}.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PostgresClient, SqlDatabase } from './sql-database.ts';

export interface PostgresDatabaseOptions {
  /** postgres://user@host:port/database */
  url: string;
  /** Pool size (default 10). */
  maxConnections?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** A pooled connection failed (server restart, failover, a cut link): it is replaced; say so. */
  onIdleError?: (err: Error) => void;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Times (ms since the epoch), ids and counters are BIGINT columns; pg returns those as strings.
 * Every one of ours fits in a double (2^53 ms is year 287,396), so they come back as numbers.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

export function openPostgresDatabase(options: PostgresDatabaseOptions): SqlDatabase {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? 'shellguard',
    types,
  });
  // An idle client that loses its connection (server restart, failover) is dropped and replaced;
  // without a listener pg would take the whole process down.
  pool.on('error', (err) => options.onIdleError?.(err));
  // A connection that fails while checked out: its query rejects (and is retried by its caller);
  // pg-pool takes its idle listener off a client it hands out, and without one of ours the
  // client's 'error' event would end the process.
  pool.on('connect', (client) => {
    client.on('error', (err) => options.onIdleError?.(err));
  });
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  return {
    engine: 'postgres',
    db,
    postgres: {
      async withClient(work) {
        const client = await pool.connect();
        try {
          return await work(client as unknown as PostgresClient);
        } finally {
          client.release();
        }
      },
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy(); // ends the pool once kysely has used it
      // Used only through withClient, kysely never took the pool: its idle client would hold the process for idleTimeoutMillis.
      if (!pool.ending) await pool.end();
    },
  };
}
