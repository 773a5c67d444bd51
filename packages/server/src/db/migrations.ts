/**
 * The SQLite-only migrations runner that shipped before issue 12, kept so tests can build database
 * files as older servers left them; the server runs db/sql-migrations.ts (both engines).
 * A tiny schema migrations runner. Each domain owns its tables and its list of migrations, applied
 * in order inside one transaction each; `schema_versions` remembers how far each domain got.
 */
import type { SqliteDatabase } from './database.ts';

export interface Migration {
  /** 1, 2, 3, ... without gaps; never renumber or edit a migration that has shipped. */
  version: number;
  description: string;
  up(db: SqliteDatabase): void;
}

/** Applies the migrations of `domain` newer than the recorded version; returns the version reached. */
export function runMigrations(db: SqliteDatabase, domain: string, migrations: readonly Migration[]): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_versions (
    domain TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations of ${domain} must be numbered 1..n without gaps`);
  });
  const row = db.prepare('SELECT version FROM schema_versions WHERE domain = ?').get(domain) as
    | { version: number }
    | undefined;
  let current = row?.version ?? 0;
  if (current > sorted.length) {
    throw new Error(`database schema of ${domain} is version ${current}, newer than this server knows (${sorted.length})`);
  }
  const record = db.prepare(`INSERT INTO schema_versions (domain, version, applied_at) VALUES (?, ?, ?)
    ON CONFLICT(domain) DO UPDATE SET version = excluded.version, applied_at = excluded.applied_at`);
  for (const m of sorted.slice(current)) {
    db.transaction(() => {
      m.up(db);
      record.run(domain, m.version, Date.now());
    })();
    current = m.version;
  }
  return current;
}
