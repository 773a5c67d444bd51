/**
 * An audit log for other domains' tests: on a test's SQLite handle (raw or wrapped), its tables
 * migrated, keyed with a throw-away key unless one is given (a restart reopens with the same key).
 */
import type { AuditEventInput, AuditListOptions, AuditLog } from '../../src/audit/audit-log.ts';
import { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { AUDIT_MIGRATIONS } from '../../src/audit/audit-schema.ts';
import { ephemeralAuditKey, type AuditKey } from '../../src/audit/audit-key.ts';
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';

export async function openTestAuditLog(db: SqliteDatabase | SqlDatabase, options: { now?: () => number; key?: AuditKey } = {}): Promise<SqlAuditLog> {
  const database = 'engine' in db ? db : openSqliteSqlDatabase(db);
  await runSqlMigrations(database, 'audit', AUDIT_MIGRATIONS);
  return SqlAuditLog.open(database.db, { engine: database.engine, key: options.key ?? ephemeralAuditKey(), ...(options.now ? { now: options.now } : {}) });
}

/**
 * The same log for a fixture built synchronously: returned at once, opened in the background, each
 * call waiting for the opening.
 */
export function openingTestAuditLog(db: SqliteDatabase | SqlDatabase, options: { now?: () => number; key?: AuditKey } = {}): AuditLog {
  const opening = openTestAuditLog(db, options);
  return {
    record: async (event: AuditEventInput) => (await opening).record(event),
    list: async (query: AuditListOptions) => (await opening).list(query),
    verify: async () => (await opening).verify(),
  };
}
