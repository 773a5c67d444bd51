/** Incidents in the server's SQLite database. */
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import type { Incident, IncidentInput, IncidentLog } from './incident-log.ts';

export const MAX_INCIDENT_PAGE = 1000;
const DEFAULT_INCIDENT_PAGE = 100;
const SEVERITIES = new Set(['low', 'medium', 'high', 'critical']);

const MIGRATIONS: Migration[] = [
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
];

interface IncidentRow {
  id: number; opened_at: number; kind: string; severity: string; device_id: string | null; reason: string; summary: string;
  detail: string; status: string;
}

function toIncident(r: IncidentRow): Incident {
  return {
    id: r.id, openedAt: r.opened_at, kind: r.kind, severity: r.severity as Incident['severity'],
    ...(r.device_id !== null ? { deviceId: r.device_id } : {}),
    reason: r.reason, summary: r.summary, detail: JSON.parse(r.detail) as Record<string, unknown>,
    status: r.status as Incident['status'],
  };
}

export interface SqliteIncidentLogOptions {
  now?: () => number;
}

export class SqliteIncidentLog implements IncidentLog {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;

  constructor(db: SqliteDatabase, options: SqliteIncidentLogOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    runMigrations(db, 'incidents', MIGRATIONS);
  }

  raise(input: IncidentInput): Incident {
    if (!SEVERITIES.has(input.severity)) throw new TypeError(`unknown incident severity "${String(input.severity)}"`);
    const openedAt = this.now();
    const detail = JSON.stringify(input.detail ?? {});
    const { lastInsertRowid } = this.db.prepare(`INSERT INTO incidents (opened_at, kind, severity, device_id, reason, summary, detail)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(openedAt, input.kind, input.severity, input.deviceId ?? null, input.reason, input.summary, detail);
    return toIncident(this.db.prepare('SELECT * FROM incidents WHERE id = ?').get(lastInsertRowid) as IncidentRow);
  }

  /** Newest first, at most `limit` (default 100, max 1000). */
  list(options: { status?: Incident['status']; deviceId?: string; limit?: number } = {}): Incident[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.status !== undefined) { where.push('status = ?'); params.push(options.status); }
    if (options.deviceId !== undefined) { where.push('device_id = ?'); params.push(options.deviceId); }
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? DEFAULT_INCIDENT_PAGE)), MAX_INCIDENT_PAGE);
    const sql = `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, limit) as IncidentRow[]).map(toIncident);
  }
}
