/**
 * The incidents' tables. Migration 1 shipped with the first incidents and is never edited;
 * migration 2 turns incidents into tickets (assignee, revision, comments, history) and adds the
 * evidence captured around them, whose due time lives here so a restart still completes it.
 */
import type { Migration } from '../db/migrations.ts';

export const INCIDENT_MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'incidents',
    up(db) {
      db.exec(`CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        opened_at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        device_id TEXT,
        reason TEXT NOT NULL,
        summary TEXT NOT NULL,
        detail TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open'
      )`);
      db.exec('CREATE INDEX incidents_device ON incidents (device_id, id)');
      db.exec('CREATE INDEX incidents_status ON incidents (status, id)');
    },
  },
  {
    version: 2,
    description: 'incident tickets: site, asset, assignee, comments, history, evidence',
    up(db) {
      db.exec('ALTER TABLE incidents ADD COLUMN site TEXT');
      db.exec('ALTER TABLE incidents ADD COLUMN asset TEXT');
      db.exec('ALTER TABLE incidents ADD COLUMN assignee TEXT');
      // Revision: +1 on every status or assignee change (the outbox's `incident:<id>:rev:<n>`).
      db.exec('ALTER TABLE incidents ADD COLUMN rev INTEGER NOT NULL DEFAULT 0');
      db.exec('ALTER TABLE incidents ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0');
      db.exec('UPDATE incidents SET updated_at = opened_at');
      db.exec('CREATE INDEX incidents_kind ON incidents (kind, id)');
      db.exec('CREATE INDEX incidents_site ON incidents (site, id)');
      db.exec('CREATE INDEX incidents_assignee ON incidents (assignee, id)');
      db.exec(`CREATE TABLE incident_comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        at INTEGER NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL
      )`);
      db.exec('CREATE INDEX incident_comments_incident ON incident_comments (incident_id, id)');
      db.exec(`CREATE TABLE incident_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
      )`);
      db.exec('CREATE INDEX incident_changes_incident ON incident_changes (incident_id, seq)');
      // Incidents from before tickets get their opening as the first line of their history.
      db.exec(`INSERT INTO incident_changes (incident_id, at, actor, kind, detail)
        SELECT id, opened_at, 'system', 'opened', json_object('kind', kind, 'severity', severity, 'reason', reason) FROM incidents ORDER BY id`);
      db.exec(`CREATE TABLE incident_evidence (
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
      )`);
      db.exec('CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id, id)');
      db.exec('CREATE INDEX incident_evidence_due ON incident_evidence (state, due_at)');
    },
  },
];
