/**
 * Schema migrations for both engines, from one place (issue 12): each domain lists its migrations
 * once, with the DDL for SQLite and for PostgreSQL side by side under one version number, and the
 * runner records progress in `schema_versions` exactly as the SQLite-only runner did, so databases
 * created before keep their history.
 *
 * On PostgreSQL several replicas may start at once: the runner holds an advisory lock, so one of
 * them migrates and the others find the work done.
 */
import { sql } from 'kysely';
import type { SqlDatabase, SqlEngine, SqlExecutor } from './sql-database.ts';

export interface SqlMigration {
  /** 1, 2, 3, ... without gaps; never renumber or edit a migration that has shipped. */
  version: number;
  description: string;
  /** DDL/DML per engine: one string of `;`-separated statements, or a function for what SQL alone cannot say. */
  sqlite: string | ((tx: SqlExecutor) => Promise<void>);
  postgres: string | ((tx: SqlExecutor) => Promise<void>);
}

/** A fixed key for pg_advisory_xact_lock: "shellguard migrations". */
const MIGRATION_LOCK_KEY = 0x5e11_6a2d;

/** Splits DDL text into statements (our migrations hold no `;` inside literals or bodies). */
function statements(text: string): string[] {
  return text.split(';').map((s) => s.trim()).filter((s) => s.length > 0);
}

async function apply(tx: SqlExecutor, step: SqlMigration['sqlite']): Promise<void> {
  if (typeof step === 'function') return step(tx);
  for (const statement of statements(step)) await sql.raw(statement).execute(tx);
}

/** Applies the migrations of `domain` newer than the recorded version; returns the version reached. */
export async function runSqlMigrations(database: Pick<SqlDatabase, 'db' | 'engine'>, domain: string, migrations: readonly SqlMigration[]): Promise<number> {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations of ${domain} must be numbered 1..n without gaps`);
  });
  const engine: SqlEngine = database.engine;
  return database.db.transaction().execute(async (tx) => {
    if (engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(tx);
    await sql.raw(`CREATE TABLE IF NOT EXISTS schema_versions (
      domain TEXT PRIMARY KEY,
      version INTEGER NOT NULL,
      applied_at ${engine === 'postgres' ? 'BIGINT' : 'INTEGER'} NOT NULL
    )`).execute(tx);
    const row = await tx.selectFrom('schema_versions').select('version').where('domain', '=', domain).executeTakeFirst() as { version: number } | undefined;
    let current = row?.version ?? 0;
    if (current > sorted.length) {
      throw new Error(`database schema of ${domain} is version ${current}, newer than this server knows (${sorted.length}); run the newer server or restore a backup`);
    }
    // Each domain's steps commit together with its recorded version; one transaction keeps the
    // advisory lock (PostgreSQL) for the whole run.
    for (const m of sorted.slice(current)) {
      await apply(tx, engine === 'postgres' ? m.postgres : m.sqlite);
      await tx.insertInto('schema_versions').values({ domain, version: m.version, applied_at: Date.now() })
        .onConflict((oc) => oc.column('domain').doUpdateSet({ version: m.version, applied_at: Date.now() }))
        .execute();
      current = m.version;
    }
    return current;
  });
}
