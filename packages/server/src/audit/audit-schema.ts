/**
 * The audit tables, for both engines (db/schema.ts runs them at start). The SQLite DDL is the one
 * that shipped, verbatim, under the same versions: existing files keep their history and their
 * chains. Both engines refuse UPDATE and DELETE of events (and PostgreSQL TRUNCATE too), so no code
 * path through the database, a bug included, can rewrite history; someone with superuser access or
 * the file can, but cannot make hashes the key verifies (see sql-audit-log.ts).
 */
import { sql } from 'kysely';
import type { SqlExecutor } from '../db/sql-database.ts';
import type { SqlMigration } from '../db/sql-migrations.ts';

/** Trigger bodies hold `;`, which the migration runner's string form splits on: run statements one by one. */
function statements(...list: string[]): (tx: SqlExecutor) => Promise<void> {
  return async (tx) => {
    for (const statement of list) await sql.raw(statement).execute(tx);
  };
}

export const AUDIT_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'hash-chained audit events, append-only',
    sqlite: statements(
      `CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      'CREATE INDEX audit_events_target ON audit_events (target, seq)',
      `CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`,
      `CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`,
    ),
    postgres: statements(
      `CREATE TABLE audit_events (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      'CREATE INDEX audit_events_target ON audit_events (target, seq)',
      `CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$`,
      `CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`,
      `CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`,
    ),
  },
  {
    version: 2,
    description: 'the audit chain\'s keying: which key (its id, never the key) and from which event on',
    sqlite: statements(
      `CREATE TABLE audit_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key_id TEXT NOT NULL,
        keyed_from_seq INTEGER NOT NULL,
        adopted_at INTEGER NOT NULL
      )`,
      `CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'the audit chain keying is written once'); END`,
      `CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'the audit chain keying is written once'); END`,
    ),
    postgres: statements(
      `CREATE TABLE audit_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key_id TEXT NOT NULL,
        keyed_from_seq BIGINT NOT NULL,
        adopted_at BIGINT NOT NULL
      )`,
      `CREATE FUNCTION audit_chain_written_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit chain keying is written once'; END $$`,
      `CREATE TRIGGER audit_chain_no_update BEFORE UPDATE OR DELETE ON audit_chain
        FOR EACH ROW EXECUTE FUNCTION audit_chain_written_once()`,
      `CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
        FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_written_once()`,
    ),
  },
];
