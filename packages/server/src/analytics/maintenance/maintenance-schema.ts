/**
 * The maintenance book's tables on both engines (domain `maintenance` in schema_versions). The
 * SQLite DDL is the one the book ran itself before issue 12, unchanged, so existing files carry on.
 */
import type { SqlMigration } from '../../db/sql-migrations.ts';

export const MAINTENANCE_MIGRATIONS: readonly SqlMigration[] = [{
  version: 1,
  description: 'maintenance recommendations and work orders',
  sqlite: `
      CREATE TABLE maintenance_recommendations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        site TEXT NOT NULL, asset TEXT NOT NULL, point TEXT NOT NULL,
        since INTEGER NOT NULL, at INTEGER NOT NULL,
        recent_mean REAL NOT NULL, baseline_mean REAL NOT NULL, baseline_std REAL NOT NULL,
        z_score REAL NOT NULL, score REAL NOT NULL,
        chart TEXT, status TEXT NOT NULL, work_order_id INTEGER, created_at INTEGER NOT NULL
      );
      CREATE INDEX maintenance_recommendations_site ON maintenance_recommendations (site, created_at);
      CREATE TABLE maintenance_work_orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        site TEXT NOT NULL, asset TEXT NOT NULL, point TEXT,
        type TEXT NOT NULL CHECK (type IN ('planned', 'predictive', 'reactive')),
        status TEXT NOT NULL CHECK (status IN ('open', 'done')),
        title TEXT NOT NULL, recommendation_id INTEGER, created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL, done_at INTEGER
      );
      CREATE INDEX maintenance_work_orders_site ON maintenance_work_orders (site, created_at);
    `,
  postgres: `
      CREATE TABLE maintenance_recommendations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        site TEXT NOT NULL, asset TEXT NOT NULL, point TEXT NOT NULL,
        since BIGINT NOT NULL, at BIGINT NOT NULL,
        recent_mean DOUBLE PRECISION NOT NULL, baseline_mean DOUBLE PRECISION NOT NULL, baseline_std DOUBLE PRECISION NOT NULL,
        z_score DOUBLE PRECISION NOT NULL, score DOUBLE PRECISION NOT NULL,
        chart TEXT, status TEXT NOT NULL, work_order_id BIGINT, created_at BIGINT NOT NULL
      );
      CREATE INDEX maintenance_recommendations_site ON maintenance_recommendations (site, created_at);
      CREATE TABLE maintenance_work_orders (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        site TEXT NOT NULL, asset TEXT NOT NULL, point TEXT,
        type TEXT NOT NULL CHECK (type IN ('planned', 'predictive', 'reactive')),
        status TEXT NOT NULL CHECK (status IN ('open', 'done')),
        title TEXT NOT NULL, recommendation_id BIGINT, created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL, done_at BIGINT
      );
      CREATE INDEX maintenance_work_orders_site ON maintenance_work_orders (site, created_at);
    `,
}, {
  version: 2,
  description: 'asset-level (multivariate) recommendations: how they were found and which points moved',
  // The same DDL on both engines. Rows stored before it are point-level: the default says so.
  sqlite: `
      ALTER TABLE maintenance_recommendations ADD COLUMN method TEXT NOT NULL DEFAULT 'point' CHECK (method IN ('point', 'asset'));
      ALTER TABLE maintenance_recommendations ADD COLUMN moves TEXT
    `,
  postgres: `
      ALTER TABLE maintenance_recommendations ADD COLUMN method TEXT NOT NULL DEFAULT 'point' CHECK (method IN ('point', 'asset'));
      ALTER TABLE maintenance_recommendations ADD COLUMN moves TEXT
    `,
}];
