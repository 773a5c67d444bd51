/** The centre's fleet records on both engines (domain `central` in schema_versions; issue 12). */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const CENTRAL_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'the newest record of each site\'s assets, alarms, devices, incidents and points, removals as tombstones',
    sqlite: `CREATE TABLE central_records (
        site TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        body TEXT,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (site, kind, key)
      );
      CREATE INDEX central_records_kind ON central_records (kind, site)`,
    // Byte order, as SQLite sorts: the same listing on both engines whatever the database's locale.
    postgres: `CREATE TABLE central_records (
        site TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        version BIGINT NOT NULL,
        removed INTEGER NOT NULL,
        body TEXT,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (site, kind, key)
      );
      CREATE INDEX central_records_kind ON central_records (kind, site)`,
  },
];
