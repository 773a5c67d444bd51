/**
 * The director's table, for both engines (issue 12). Domain `director` in schema_versions;
 * version 1 is the SQLite DDL servers have run since the first release, verbatim.
 */
import type { SqlMigration } from '../../db/sql-migrations.ts';

export const DIRECTOR_MIGRATIONS: readonly SqlMigration[] = [{
  version: 1,
  description: 'director sequence and latest instruction per device',
  sqlite: `
    CREATE TABLE director_devices (
      device_id TEXT PRIMARY KEY,
      sequence INTEGER NOT NULL,
      envelope BLOB
    )`,
  postgres: `
    CREATE TABLE director_devices (
      device_id TEXT PRIMARY KEY,
      sequence BIGINT NOT NULL,
      envelope BYTEA
    )`,
}];
