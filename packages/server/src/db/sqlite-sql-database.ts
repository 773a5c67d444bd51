/** The embedded engine: one SQLite file, one connection, one write lock (see sqlite-write-lock.ts). */
import { Kysely } from 'kysely';
import { openDatabase, type OpenDatabaseOptions, type SqliteDatabase } from './database.ts';
import { LockedSqliteDialect } from './sqlite-kysely-driver.ts';
import type { SqlDatabase } from './sql-database.ts';
import { SqliteWriteLock } from './sqlite-write-lock.ts';

/** Opens (creating if needed) `file`, or wraps an already open handle (which `close()` then closes). */
export function openSqliteSqlDatabase(file: string | SqliteDatabase, options: OpenDatabaseOptions = {}): SqlDatabase {
  const handle = typeof file === 'string' ? openDatabase(file, options) : file;
  const lock = new SqliteWriteLock();
  const db = new Kysely<unknown>({ dialect: new LockedSqliteDialect(handle, lock) });
  let closed = false;
  return {
    engine: 'sqlite',
    db,
    sqlite: { handle, lock },
    async close() {
      if (closed) return;
      closed = true;
      // Wait for the writes in flight, then close under the lock so none starts on a closed handle.
      await lock.run(() => { handle.close(); });
      await db.destroy();
    },
  };
}
