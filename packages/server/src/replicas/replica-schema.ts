/** The replica heartbeats' table on both engines (domain `replicas` in schema_versions). */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const REPLICA_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'server replicas and when each was last seen alive',
    sqlite: `CREATE TABLE server_replicas (
        id TEXT PRIMARY KEY,
        seen_at INTEGER NOT NULL
      )`,
    postgres: `CREATE TABLE server_replicas (
        id TEXT PRIMARY KEY,
        seen_at BIGINT NOT NULL
      )`,
  },
];
