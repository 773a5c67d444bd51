export { openDatabase, type SqliteDatabase, type OpenDatabaseOptions } from './database.ts';
export { runMigrations, type Migration } from './migrations.ts';
