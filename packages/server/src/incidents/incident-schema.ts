/**
 * The incidents' tables, for both engines (db/schema.ts runs them at start). Migration 1 shipped
 * with the first incidents and is never edited; migration 2 turns incidents into tickets
 * (assignee, revision, comments, history) and adds the evidence captured around them, whose due
 * time lives here so a restart still completes it. The SQLite DDL is the one that shipped, verbatim.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const INCIDENT_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'incidents',
    sqlite: `CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        opened_at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        device_id TEXT,
        reason TEXT NOT NULL,
        summary TEXT NOT NULL,
        detail TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open'
      );
      CREATE INDEX incidents_device ON incidents (device_id, id);
      CREATE INDEX incidents_status ON incidents (status, id)`,
    postgres: `CREATE TABLE incidents (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        opened_at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        device_id TEXT,
        reason TEXT NOT NULL,
        summary TEXT NOT NULL,
        detail TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open'
      );
      CREATE INDEX incidents_device ON incidents (device_id, id);
      CREATE INDEX incidents_status ON incidents (status, id)`,
  },
  // rev: +1 on every status or assignee change (the outbox's `incident:<id>:rev:<n>`). Incidents
  // from before tickets get their opening as the first line of their history.
  {
    version: 2,
    description: 'incident tickets: site, asset, assignee, comments, history, evidence',
    sqlite: `ALTER TABLE incidents ADD COLUMN site TEXT;
      ALTER TABLE incidents ADD COLUMN asset TEXT;
      ALTER TABLE incidents ADD COLUMN assignee TEXT;
      ALTER TABLE incidents ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE incidents ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
      UPDATE incidents SET updated_at = opened_at;
      CREATE INDEX incidents_kind ON incidents (kind, id);
      CREATE INDEX incidents_site ON incidents (site, id);
      CREATE INDEX incidents_assignee ON incidents (assignee, id);
      CREATE TABLE incident_comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        at INTEGER NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL
      );
      CREATE INDEX incident_comments_incident ON incident_comments (incident_id, id);
      CREATE TABLE incident_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX incident_changes_incident ON incident_changes (incident_id, seq);
      INSERT INTO incident_changes (incident_id, at, actor, kind, detail)
        SELECT id, opened_at, 'system', 'opened', json_object('kind', kind, 'severity', severity, 'reason', reason) FROM incidents ORDER BY id;
      CREATE TABLE incident_evidence (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        role TEXT,
        points TEXT,
        from_ms INTEGER NOT NULL,
        to_ms INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        captured_at INTEGER,
        series TEXT,
        error TEXT
      );
      CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id, id);
      CREATE INDEX incident_evidence_due ON incident_evidence (state, due_at)`,
    postgres: `ALTER TABLE incidents ADD COLUMN site TEXT;
      ALTER TABLE incidents ADD COLUMN asset TEXT;
      ALTER TABLE incidents ADD COLUMN assignee TEXT;
      ALTER TABLE incidents ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE incidents ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
      UPDATE incidents SET updated_at = opened_at;
      CREATE INDEX incidents_kind ON incidents (kind, id);
      CREATE INDEX incidents_site ON incidents (site, id);
      CREATE INDEX incidents_assignee ON incidents (assignee, id);
      CREATE TABLE incident_comments (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        at BIGINT NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL
      );
      CREATE INDEX incident_comments_incident ON incident_comments (incident_id, id);
      CREATE TABLE incident_changes (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX incident_changes_incident ON incident_changes (incident_id, seq);
      INSERT INTO incident_changes (incident_id, at, actor, kind, detail)
        SELECT id, opened_at, 'system', 'opened', json_build_object('kind', kind, 'severity', severity, 'reason', reason)::text FROM incidents ORDER BY id;
      CREATE TABLE incident_evidence (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        role TEXT,
        points TEXT,
        from_ms BIGINT NOT NULL,
        to_ms BIGINT NOT NULL,
        due_at BIGINT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        captured_at BIGINT,
        series TEXT,
        error TEXT
      );
      CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id, id);
      CREATE INDEX incident_evidence_due ON incident_evidence (state, due_at)`,
  },
];
