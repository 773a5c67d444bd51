/**
 * The alarm domain's tables on both engines (domain `alarms` in schema_versions). Version 1's
 * SQLite DDL is the one the engine ran itself before issue 12, unchanged, so existing files carry on.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const ALARM_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'alarm rules, overrides, assets, alarms and their history',
    sqlite: `CREATE TABLE alarm_rules (
        id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE alarm_rule_overrides (
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        patch TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (site, asset, rule_id)
      );
      CREATE TABLE alarm_assets (
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        profile TEXT,
        mode TEXT NOT NULL DEFAULT 'normal',
        PRIMARY KEY (site, asset)
      );
      CREATE TABLE alarms (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL
      );
      CREATE TABLE alarm_events (
        seq INTEGER PRIMARY KEY,
        alarm_id INTEGER NOT NULL REFERENCES alarms (id),
        site TEXT NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        comment TEXT NOT NULL,
        state TEXT NOT NULL,
        annunciated INTEGER NOT NULL,
        new_annunciation INTEGER NOT NULL,
        value TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id, seq);
      CREATE INDEX alarm_events_annunciations ON alarm_events (new_annunciation, at)`,
    // Alarm ids come from the engine's reservations (version 2), hence no identity on alarms.id.
    postgres: `CREATE TABLE alarm_rules (
        id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE alarm_rule_overrides (
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        patch TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (site, asset, rule_id)
      );
      CREATE TABLE alarm_assets (
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        profile TEXT,
        mode TEXT NOT NULL DEFAULT 'normal',
        PRIMARY KEY (site, asset)
      );
      CREATE TABLE alarms (
        id BIGINT PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL
      );
      CREATE TABLE alarm_events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        alarm_id BIGINT NOT NULL REFERENCES alarms (id),
        site TEXT NOT NULL,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        comment TEXT NOT NULL,
        state TEXT NOT NULL,
        annunciated INTEGER NOT NULL,
        new_annunciation INTEGER NOT NULL,
        value TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id, seq);
      CREATE INDEX alarm_events_annunciations ON alarm_events (new_annunciation, at)`,
  },
  {
    version: 2,
    description: 'alarm ids reserved from the database in blocks, so the engine names a new alarm without waiting for it',
    sqlite: `CREATE TABLE alarm_id_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_id INTEGER NOT NULL
      );
      INSERT INTO alarm_id_counter (id, next_id) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM alarms`,
    postgres: `CREATE TABLE alarm_id_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_id BIGINT NOT NULL
      );
      INSERT INTO alarm_id_counter (id, next_id) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM alarms`,
  },
  {
    version: 3,
    description: 'bus messages whose alarm effects are stored, so a redelivered batch is evaluated once (issue 12)',
    sqlite: `CREATE TABLE alarm_handled_messages (
        id TEXT PRIMARY KEY,
        at INTEGER NOT NULL
      );
      CREATE INDEX alarm_handled_messages_at ON alarm_handled_messages (at)`,
    postgres: `CREATE TABLE alarm_handled_messages (
        id TEXT PRIMARY KEY,
        at BIGINT NOT NULL
      );
      CREATE INDEX alarm_handled_messages_at ON alarm_handled_messages (at)`,
  },
];
