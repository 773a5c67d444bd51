/** A telemetry store for the tests of other domains (the API, incidents) that need one with data. */
import type { SqliteDatabase } from '../db/database.ts';
import type { SqlDatabase } from '../db/sql-database.ts';
import { runSqlMigrations } from '../db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../db/sqlite-sql-database.ts';
import { TELEMETRY_MIGRATIONS } from '../telemetry/layout.ts';
import { SqliteTelemetryStore, type SqliteTelemetryStoreOptions } from '../telemetry/sqlite-telemetry-store.ts';

/**
 * A SQLite telemetry store with its tables migrated, on the test's SqlDatabase — or on a bare
 * handle, wrapped here (then nothing else may write to that handle through another wrapper: pass
 * the SqlDatabase when the test has one).
 */
export async function sqliteTelemetryStore(database: SqlDatabase | SqliteDatabase, options: SqliteTelemetryStoreOptions = {}): Promise<SqliteTelemetryStore> {
  const sql = 'engine' in database ? database : openSqliteSqlDatabase(database);
  await runSqlMigrations(sql, 'telemetry', TELEMETRY_MIGRATIONS);
  return new SqliteTelemetryStore(sql, options);
}
