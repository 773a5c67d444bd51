/**
 * An incident log for other domains' tests: on a test's SQLite handle (raw or wrapped), the
 * incident and outbox tables migrated, writing its audit events to `audit` when given.
 */
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { INCIDENT_MIGRATIONS } from '../../src/incidents/incident-schema.ts';
import { SqlIncidentLog, type TransactionalAudit } from '../../src/incidents/sql-incident-log.ts';

export async function openTestIncidentLog(db: SqliteDatabase | SqlDatabase, options: { now?: () => number; audit?: TransactionalAudit } = {}): Promise<SqlIncidentLog> {
  const database = 'engine' in db ? db : openSqliteSqlDatabase(db);
  await runSqlMigrations(database, 'incidents', INCIDENT_MIGRATIONS);
  return new SqlIncidentLog(database.db, {
    engine: database.engine, ...(options.now ? { now: options.now } : {}), ...(options.audit ? { audit: options.audit } : {}),
  });
}
