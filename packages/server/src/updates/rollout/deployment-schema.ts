/**
 * The deployments' tables, for both engines (issue 12). Domain `deployments` in schema_versions;
 * version 1 is the SQLite DDL servers have run since the first release, verbatim. Records are JSON,
 * read and written whole; the columns filtered or ordered on sit beside them.
 */
import type { SqlMigration } from '../../db/sql-migrations.ts';

export const DEPLOYMENT_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'deployments and their per-device rollout records',
    sqlite: `
      CREATE TABLE deployments (
        id TEXT PRIMARY KEY, group_id TEXT NOT NULL, stream TEXT NOT NULL, state TEXT NOT NULL,
        created_at INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE INDEX deployments_group ON deployments (group_id, stream, created_at);
      CREATE TABLE deployment_devices (
        deployment_id TEXT NOT NULL REFERENCES deployments (id), device_id TEXT NOT NULL, wave INTEGER NOT NULL,
        state TEXT NOT NULL, reported INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (deployment_id, device_id));
      CREATE INDEX deployment_devices_device ON deployment_devices (device_id)`,
    // Ids ordered on are byte-ordered, as SQLite orders them, whatever the database's locale.
    postgres: `
      CREATE TABLE deployments (
        id TEXT COLLATE "C" PRIMARY KEY, group_id TEXT NOT NULL, stream TEXT NOT NULL, state TEXT NOT NULL,
        created_at BIGINT NOT NULL, record TEXT NOT NULL);
      CREATE INDEX deployments_group ON deployments (group_id, stream, created_at);
      CREATE TABLE deployment_devices (
        deployment_id TEXT COLLATE "C" NOT NULL REFERENCES deployments (id), device_id TEXT COLLATE "C" NOT NULL, wave INTEGER NOT NULL,
        state TEXT COLLATE "C" NOT NULL, reported INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (deployment_id, device_id));
      CREATE INDEX deployment_devices_device ON deployment_devices (device_id)`,
  },
  {
    version: 2,
    description: 'at most one running or paused deployment per group and stream',
    // The rule the rollout engine checked alone; with several replicas only the database can keep it.
    sqlite: "CREATE UNIQUE INDEX deployments_one_active ON deployments (group_id, stream) WHERE state IN ('running', 'paused')",
    postgres: "CREATE UNIQUE INDEX deployments_one_active ON deployments (group_id, stream) WHERE state IN ('running', 'paused')",
  },
];
