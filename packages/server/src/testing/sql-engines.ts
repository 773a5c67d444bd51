/**
 * Test databases on both engines, for the contract suites (one suite per store port, run on every
 * implementation — STYLE.md §2). PostgreSQL tests use a database of their own, created fresh and
 * dropped after, on the server at SHELLGUARD_TEST_POSTGRES_URL (default the machine's, trust auth);
 * a missing server fails the suite with what to do, it is never skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresDatabase } from '../db/postgres-database.ts';
import type { SqlDatabase, SqlEngine } from '../db/sql-database.ts';
import { openSqliteSqlDatabase } from '../db/sqlite-sql-database.ts';

export const SQL_ENGINES: readonly SqlEngine[] = ['sqlite', 'postgres'];

/** The server the PostgreSQL tests create their databases on. */
export function testPostgresUrl(database = 'postgres'): string {
  const base = process.env['SHELLGUARD_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: testPostgresUrl() });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL tests need a server at ${testPostgresUrl()} (set SHELLGUARD_TEST_POSTGRES_URL, or start it: scripts/start-services.sh): ${(err as Error).message}`);
  }
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  readonly engine: SqlEngine;
  readonly database: SqlDatabase;
  /** Where it lives: the SQLite file, or the PostgreSQL URL (to open a second connection, e.g. a second replica). */
  readonly location: string;
  /** Opens another handle on the same database (another "process" or replica). */
  reopen(): SqlDatabase;
  /** Closes every handle it opened and deletes the database. */
  destroy(): Promise<void>;
}

/** A fresh, empty database on `engine`. */
export async function createTestDatabase(engine: SqlEngine, label = 'test'): Promise<TestDatabase> {
  const opened: SqlDatabase[] = [];
  if (engine === 'sqlite') {
    const dir = mkdtempSync(path.join(os.tmpdir(), `sg-${label}-`));
    const file = path.join(dir, 'shellguard.sqlite');
    const open = (): SqlDatabase => {
      const d = openSqliteSqlDatabase(file);
      opened.push(d);
      return d;
    };
    return {
      engine, database: open(), location: file, reopen: open,
      async destroy() {
        for (const d of opened) await d.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `sg_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase().slice(0, 30)}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = testPostgresUrl(name);
  const open = (): SqlDatabase => {
    const d = openPostgresDatabase({ url, maxConnections: 5, applicationName: `shellguard-test-${label}` });
    opened.push(d);
    return d;
  };
  return {
    engine, database: open(), location: url, reopen: open,
    async destroy() {
      for (const d of opened) await d.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
