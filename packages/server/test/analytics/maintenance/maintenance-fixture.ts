/** A maintenance book on a migrated database, for the tests that need one. */
import type { SqlDatabase } from '../../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../../src/db/sql-migrations.ts';
import { MaintenanceBook, type MaintenanceBookOptions } from '../../../src/analytics/maintenance/maintenance-book.ts';
import { MAINTENANCE_MIGRATIONS } from '../../../src/analytics/maintenance/maintenance-schema.ts';
import { SqlMaintenanceStore } from '../../../src/analytics/maintenance/sql-maintenance-store.ts';

export async function openBook(database: SqlDatabase, options: Omit<MaintenanceBookOptions, 'store'> = {}): Promise<MaintenanceBook> {
  await runSqlMigrations(database, 'maintenance', MAINTENANCE_MIGRATIONS);
  return new MaintenanceBook({ store: new SqlMaintenanceStore(database.db), ...options });
}
