/**
 * API tokens for other domains' route tests: on a test's SQLite handle (raw or wrapped), their
 * table migrated. Pass the test's SqlDatabase when it has one, so every store shares its write lock.
 */
import { ApiTokens, type ApiTokensOptions } from '../../src/auth/api-tokens.ts';
import { API_TOKEN_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import { SqlApiTokenStore } from '../../src/auth/sql-api-token-store.ts';
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';

export async function openTestApiTokens(db: SqliteDatabase | SqlDatabase, options: ApiTokensOptions = {}): Promise<ApiTokens> {
  const database = 'engine' in db ? db : openSqliteSqlDatabase(db);
  await runSqlMigrations(database, 'auth', API_TOKEN_MIGRATIONS);
  return new ApiTokens(new SqlApiTokenStore(database.db, { engine: database.engine }), options);
}
