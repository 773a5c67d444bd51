/** Opens the database a server's config names, and brings every domain's tables up to date. */
import path from 'node:path';
import type { DatabaseConfig } from '../config/config.ts';
import { openPostgresDatabase } from './postgres-database.ts';
import { migrateServerDatabase } from './schema.ts';
import type { SqlDatabase } from './sql-database.ts';
import { openSqliteSqlDatabase } from './sqlite-sql-database.ts';

/** The embedded database's file in a server's dataDir. */
export const SQLITE_FILE = 'shellguard.sqlite';

export async function openServerDatabase(
  config: { dataDir: string; database?: DatabaseConfig | undefined }, options: { replica?: string; onIdleError?: (err: Error) => void } = {},
): Promise<SqlDatabase> {
  const engine = config.database ?? { engine: 'sqlite' as const };
  const database = engine.engine === 'postgres'
    ? openPostgresDatabase({
      url: engine.url,
      ...(engine.maxConnections !== undefined ? { maxConnections: engine.maxConnections } : {}),
      applicationName: `shellguard-server${options.replica ? `-${options.replica}` : ''}`,
      ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
    })
    : openSqliteSqlDatabase(path.join(config.dataDir, SQLITE_FILE));
  try {
    await migrateServerDatabase(database);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}
