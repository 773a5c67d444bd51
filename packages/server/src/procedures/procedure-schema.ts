/**
 * The procedures domain's tables, for both engines (issue 12). Domain `procedures` in
 * schema_versions; version 1 is the SQLite DDL servers have run since the first release, verbatim.
 * Records are JSON text (read whole, written whole); the columns filtered on are kept beside them.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const PROCEDURE_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'procedures, work orders, step log, deviations, panel alerts, site stops',
    sqlite: `
      CREATE TABLE procedure_versions (
        procedure_id TEXT NOT NULL, version INTEGER NOT NULL, template TEXT NOT NULL, source TEXT NOT NULL,
        author TEXT NOT NULL, created_at INTEGER NOT NULL, approved_by TEXT, approved_at INTEGER,
        PRIMARY KEY (procedure_id, version));
      CREATE TABLE work_orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL);
      CREATE INDEX work_orders_site ON work_orders (site, status);
      CREATE TABLE work_order_steps (
        work_order_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL,
        step INTEGER, actor TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (work_order_id, seq));
      CREATE TABLE work_order_deviations (
        id INTEGER PRIMARY KEY AUTOINCREMENT, work_order_id INTEGER NOT NULL, open INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE INDEX work_order_deviations_wo ON work_order_deviations (work_order_id);
      CREATE TABLE panel_alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL, open INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE INDEX panel_alerts_open ON panel_alerts (open, site);
      CREATE TABLE site_stops (site TEXT PRIMARY KEY, record TEXT NOT NULL)`,
    postgres: `
      CREATE TABLE procedure_versions (
        procedure_id TEXT COLLATE "C" NOT NULL, version INTEGER NOT NULL, template TEXT NOT NULL, source TEXT NOT NULL,
        author TEXT NOT NULL, created_at BIGINT NOT NULL, approved_by TEXT, approved_at BIGINT,
        PRIMARY KEY (procedure_id, version));
      CREATE TABLE work_orders (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, site TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL);
      CREATE INDEX work_orders_site ON work_orders (site, status);
      CREATE TABLE work_order_steps (
        work_order_id BIGINT NOT NULL, seq INTEGER NOT NULL, at BIGINT NOT NULL, kind TEXT NOT NULL,
        step INTEGER, actor TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (work_order_id, seq));
      CREATE TABLE work_order_deviations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, work_order_id BIGINT NOT NULL, open INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE INDEX work_order_deviations_wo ON work_order_deviations (work_order_id);
      CREATE TABLE panel_alerts (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, site TEXT NOT NULL, open INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE INDEX panel_alerts_open ON panel_alerts (open, site);
      CREATE TABLE site_stops (site TEXT COLLATE "C" PRIMARY KEY, record TEXT NOT NULL)`,
  },
];
