/**
 * The site registry's tables, for both engines (issue 12). Domain `registry` in schema_versions;
 * the SQLite DDL is what servers have run since these versions shipped, verbatim, so existing
 * files keep working.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const REGISTRY_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'sites, areas, assets, points, devices',
    sqlite: `
        CREATE TABLE sites (id TEXT PRIMARY KEY, first_seen INTEGER NOT NULL);
        CREATE TABLE areas (site TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (site, id));
        CREATE TABLE assets (
          site TEXT NOT NULL,
          id TEXT NOT NULL,
          name TEXT NOT NULL,
          type TEXT NOT NULL,
          profile TEXT NOT NULL,
          area TEXT NOT NULL,
          device_id TEXT NOT NULL,
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (site, id)
        );
        CREATE INDEX assets_by_device ON assets (device_id);
        CREATE TABLE points (
          site TEXT NOT NULL,
          asset TEXT NOT NULL,
          name TEXT NOT NULL,
          unit TEXT NOT NULL,
          kind TEXT NOT NULL,
          description TEXT NOT NULL,
          PRIMARY KEY (site, asset, name)
        );
        CREATE TABLE devices (
          id TEXT PRIMARY KEY,
          site TEXT NOT NULL,
          first_seen INTEGER NOT NULL,
          last_seen INTEGER NOT NULL,
          online INTEGER NOT NULL,
          version TEXT NOT NULL
        );
      `,
    postgres: `
        CREATE TABLE sites (id TEXT PRIMARY KEY, first_seen BIGINT NOT NULL);
        CREATE TABLE areas (site TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (site, id));
        CREATE TABLE assets (
          site TEXT NOT NULL,
          id TEXT NOT NULL,
          name TEXT NOT NULL,
          type TEXT NOT NULL,
          profile TEXT NOT NULL,
          area TEXT NOT NULL,
          device_id TEXT NOT NULL,
          updated_at BIGINT NOT NULL,
          PRIMARY KEY (site, id)
        );
        CREATE INDEX assets_by_device ON assets (device_id);
        CREATE TABLE points (
          site TEXT NOT NULL,
          asset TEXT NOT NULL,
          name TEXT NOT NULL,
          unit TEXT NOT NULL,
          kind TEXT NOT NULL,
          description TEXT NOT NULL,
          PRIMARY KEY (site, asset, name)
        );
        CREATE TABLE devices (
          id TEXT PRIMARY KEY,
          site TEXT NOT NULL,
          first_seen BIGINT NOT NULL,
          last_seen BIGINT NOT NULL,
          online INTEGER NOT NULL,
          version TEXT NOT NULL
        );
      `,
  },
  {
    version: 2,
    description: 'guardian clock offsets',
    sqlite: 'ALTER TABLE devices ADD COLUMN clock_offset_ms INTEGER',
    postgres: 'ALTER TABLE devices ADD COLUMN clock_offset_ms BIGINT',
  },
];
