/**
 * The outbox's tables, for both engines (db/schema.ts runs them at start). Migration 1 is the
 * SQLite DDL that shipped, verbatim; migration 2 adds the claim a dispatcher takes on a delivery
 * before sending it, so several replicas can share one queue without sending a delivery twice at once.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const OUTBOX_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'outbox entries and one delivery per subscribed endpoint',
    // AUTOINCREMENT (an identity on PostgreSQL): ids are never reused, so id order stays enqueue order for good.
    sqlite: `CREATE TABLE outbox_entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL
      );
      CREATE TABLE outbox_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entry_id INTEGER NOT NULL REFERENCES outbox_entries (id),
        endpoint_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_attempt_at INTEGER,
        last_status INTEGER,
        last_error TEXT,
        delivered_at INTEGER,
        UNIQUE (entry_id, endpoint_id)
      );
      CREATE INDEX outbox_deliveries_queue ON outbox_deliveries (endpoint_id, id) WHERE state = 'pending'`,
    postgres: `CREATE TABLE outbox_entries (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        enqueued_at BIGINT NOT NULL
      );
      CREATE TABLE outbox_deliveries (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        entry_id BIGINT NOT NULL REFERENCES outbox_entries (id),
        endpoint_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        last_attempt_at BIGINT,
        last_status INTEGER,
        last_error TEXT,
        delivered_at BIGINT,
        UNIQUE (entry_id, endpoint_id)
      );
      CREATE INDEX outbox_deliveries_queue ON outbox_deliveries (endpoint_id, id) WHERE state = 'pending'`,
  },
  {
    version: 2,
    description: 'a dispatcher\'s claim on the delivery it is sending (several replicas, one queue)',
    sqlite: `ALTER TABLE outbox_deliveries ADD COLUMN claimed_by TEXT;
      ALTER TABLE outbox_deliveries ADD COLUMN claimed_until INTEGER`,
    postgres: `ALTER TABLE outbox_deliveries ADD COLUMN claimed_by TEXT;
      ALTER TABLE outbox_deliveries ADD COLUMN claimed_until BIGINT`,
  },
];
