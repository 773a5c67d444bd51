/**
 * Incidents and their tickets in the server's SQLite database. Each change is one transaction
 * holding the change, its history line, its audit event and its outbox entry: either all of them
 * happened or none did. `raise` may run inside a caller's transaction (better-sqlite3 nests it as
 * a savepoint), so the fleet's quarantine and its incident commit together.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations } from '../db/migrations.ts';
import { IncidentError } from './incident-error.ts';
import type { EvidenceStore } from './incident-evidence.ts';
import {
  DMOP_INCIDENT_KINDS, INCIDENT_SEVERITIES, MAX_ASSIGNEE_LENGTH, MAX_COMMENT_LENGTH, MAX_NOTE_LENGTH, type EvidenceRequest, type EvidenceSeries, type Incident, type IncidentChange,
  type IncidentChangeKind, type IncidentComment, type IncidentEvidence, type IncidentFilter, type IncidentInput,
  type IncidentReview, type IncidentTicket, type IncidentTickets,
} from './incident-log.ts';
import { isAnnounced, openedEntry, updatedEntry, type IncidentOutbox, type IncidentUrl } from './incident-outbox.ts';
import { checkTransition, isIncidentStatus, type IncidentStatus } from './incident-status.ts';
import { INCIDENT_MIGRATIONS } from './sqlite-incident-schema.ts';

export const MAX_INCIDENT_PAGE = 1000;
const DEFAULT_INCIDENT_PAGE = 100;
/** An evidence window longer than this is a mistake, not evidence (and would be a large read). */
const MAX_EVIDENCE_SIDE_MS = 60 * 60_000;
const DEFAULT_EVIDENCE_SIDE_MS = 5 * 60_000;
const DEFAULT_SETTLE_MS = 60_000;

interface IncidentRow {
  id: number; opened_at: number; kind: string; severity: string; device_id: string | null; reason: string; summary: string;
  detail: string; status: string; site: string | null; asset: string | null; assignee: string | null; rev: number; updated_at: number;
}
interface CommentRow { id: number; incident_id: number; at: number; author: string; text: string }
interface ChangeRow { seq: number; incident_id: number; at: number; actor: string; kind: string; detail: string }
interface EvidenceRow {
  id: number; incident_id: number; site: string; asset: string; role: string | null; points: string | null; from_ms: number; to_ms: number;
  due_at: number; state: string; attempts: number; captured_at: number | null; series: string | null; error: string | null;
}

function toIncident(r: IncidentRow): Incident {
  return {
    id: r.id, openedAt: r.opened_at, kind: r.kind, severity: r.severity as Incident['severity'],
    ...(r.device_id !== null ? { deviceId: r.device_id } : {}),
    ...(r.site !== null ? { site: r.site } : {}),
    ...(r.asset !== null ? { asset: r.asset } : {}),
    ...(r.assignee !== null ? { assignee: r.assignee } : {}),
    reason: r.reason, summary: r.summary, detail: JSON.parse(r.detail) as Record<string, unknown>,
    status: r.status as IncidentStatus,
  };
}

const toTicket = (r: IncidentRow): IncidentTicket => ({ ...toIncident(r), rev: r.rev, updatedAt: r.updated_at });
const toComment = (r: CommentRow): IncidentComment => ({ id: r.id, incidentId: r.incident_id, at: r.at, author: r.author, text: r.text });
const toChange = (r: ChangeRow): IncidentChange => ({
  seq: r.seq, incidentId: r.incident_id, at: r.at, actor: r.actor, kind: r.kind as IncidentChangeKind,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
});

function toEvidence(r: EvidenceRow, withSeries: boolean): IncidentEvidence {
  return {
    id: r.id, incidentId: r.incident_id, site: r.site, asset: r.asset,
    ...(r.role !== null ? { role: r.role } : {}),
    ...(r.points !== null ? { points: JSON.parse(r.points) as string[] } : {}),
    from: r.from_ms, to: r.to_ms, dueAt: r.due_at, state: r.state as IncidentEvidence['state'], attempts: r.attempts,
    ...(r.captured_at !== null ? { capturedAt: r.captured_at } : {}),
    ...(withSeries && r.series !== null ? { series: JSON.parse(r.series) as EvidenceSeries[] } : {}),
    ...(r.error !== null ? { error: r.error } : {}),
  };
}

function invalid(message: string, details: Record<string, unknown> = {}): IncidentError {
  return new IncidentError('incident_invalid', message, details);
}

function requiredText(value: unknown, what: string, max: number): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '') throw invalid(`${what} must not be empty`);
  if (text.length > max) throw invalid(`${what} is longer than ${max} characters`, { length: text.length, max });
  return text;
}

function windowSide(value: number | undefined, fallback: number, what: string): number {
  const ms = value ?? fallback;
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_EVIDENCE_SIDE_MS) throw invalid(`evidence ${what} must be 0 to ${MAX_EVIDENCE_SIDE_MS} ms`, { [what]: ms });
  return ms;
}

export interface SqliteIncidentLogOptions {
  now?: () => number;
  /** Every change is recorded here (incident.open, .assign, .comment, .status, .evidence). The server always passes one. */
  audit?: Pick<AuditLog, 'record'>;
  /** Announcements, enqueued in the change's transaction (incident-outbox.ts). */
  outbox?: IncidentOutbox;
  /** The dashboard address of an incident, sent with announcements (e.g. `(id) => \`${origin}/incidents/${id}\``). */
  incidentUrl?: IncidentUrl;
  /** Default evidence window around the incident (5 min before, 5 min after). */
  evidenceWindow?: { beforeMs?: number; afterMs?: number };
  /** How long after the window ends it is read (default 60 s), so late store-and-forward telemetry is in it. */
  evidenceSettleMs?: number;
}

export class SqliteIncidentLog implements IncidentTickets, EvidenceStore {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly audit: Pick<AuditLog, 'record'> | undefined;
  private readonly outbox: IncidentOutbox | undefined;
  private readonly incidentUrl: IncidentUrl | undefined;
  private readonly beforeMs: number;
  private readonly afterMs: number;
  private readonly settleMs: number;
  private readonly stmt;

  constructor(db: SqliteDatabase, options: SqliteIncidentLogOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.audit = options.audit;
    this.outbox = options.outbox;
    this.incidentUrl = options.incidentUrl;
    this.beforeMs = windowSide(options.evidenceWindow?.beforeMs, DEFAULT_EVIDENCE_SIDE_MS, 'beforeMs');
    this.afterMs = windowSide(options.evidenceWindow?.afterMs, DEFAULT_EVIDENCE_SIDE_MS, 'afterMs');
    this.settleMs = options.evidenceSettleMs ?? DEFAULT_SETTLE_MS;
    runMigrations(db, 'incidents', INCIDENT_MIGRATIONS);
    this.stmt = {
      insert: db.prepare(`INSERT INTO incidents (opened_at, updated_at, kind, severity, device_id, site, asset, assignee, reason, summary, detail)
        VALUES (@at, @at, @kind, @severity, @deviceId, @site, @asset, @assignee, @reason, @summary, @detail)`),
      get: db.prepare('SELECT * FROM incidents WHERE id = ?'),
      setAssignee: db.prepare('UPDATE incidents SET assignee = ?, rev = rev + 1, updated_at = ? WHERE id = ?'),
      setStatus: db.prepare('UPDATE incidents SET status = ?, rev = rev + 1, updated_at = ? WHERE id = ?'),
      touch: db.prepare('UPDATE incidents SET updated_at = ? WHERE id = ?'),
      insertComment: db.prepare('INSERT INTO incident_comments (incident_id, at, author, text) VALUES (?, ?, ?, ?)'),
      comments: db.prepare('SELECT * FROM incident_comments WHERE incident_id = ? ORDER BY id'),
      insertChange: db.prepare('INSERT INTO incident_changes (incident_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)'),
      changes: db.prepare('SELECT * FROM incident_changes WHERE incident_id = ? ORDER BY seq'),
      insertEvidence: db.prepare(`INSERT INTO incident_evidence (incident_id, site, asset, role, points, from_ms, to_ms, due_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      evidenceOf: db.prepare('SELECT * FROM incident_evidence WHERE incident_id = ? ORDER BY id'),
      evidence: db.prepare('SELECT * FROM incident_evidence WHERE id = ?'),
      due: db.prepare(`SELECT id, incident_id, site, asset, role, points, from_ms, to_ms, due_at, state, attempts, captured_at, NULL AS series, error
        FROM incident_evidence WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?`),
      captured: db.prepare(`UPDATE incident_evidence SET state = 'captured', captured_at = ?, series = ?, error = NULL, attempts = attempts + 1
        WHERE id = ? AND state = 'pending'`),
      failed: db.prepare(`UPDATE incident_evidence SET state = ?, due_at = ?, error = ?, attempts = attempts + 1
        WHERE id = ? AND state = 'pending'`),
    };
  }

  raise(input: IncidentInput): Incident {
    if (!(INCIDENT_SEVERITIES as readonly string[]).includes(input.severity)) {
      throw invalid(`unknown incident severity "${String(input.severity)}"`, { severity: input.severity });
    }
    const at = this.now();
    const evidence = this.evidenceOf(input, at);
    const assignee = input.assignee !== undefined ? requiredText(input.assignee, 'the assignee', MAX_ASSIGNEE_LENGTH) : null;
    return this.db.transaction((): Incident => {
      const { lastInsertRowid } = this.stmt.insert.run({
        at, kind: input.kind, severity: input.severity, deviceId: input.deviceId ?? null, site: input.site ?? null,
        asset: input.asset ?? null, assignee, reason: input.reason, summary: input.summary, detail: JSON.stringify(input.detail ?? {}),
      });
      const incident = toIncident(this.stmt.get.get(lastInsertRowid) as IncidentRow);
      const announced = isAnnounced(input);
      this.change(incident.id, at, 'system', 'opened', { kind: incident.kind, severity: incident.severity, reason: incident.reason, announced });
      for (const e of evidence) {
        this.stmt.insertEvidence.run(incident.id, e.site, e.asset, e.role ?? null, e.points ? JSON.stringify(e.points) : null, e.from, e.to, e.to + this.settleMs);
      }
      this.audit?.record({
        actor: 'system', action: 'incident.open', target: `incident:${incident.id}`,
        detail: {
          kind: incident.kind, severity: incident.severity, reason: incident.reason,
          ...(incident.deviceId !== undefined ? { deviceId: incident.deviceId } : {}),
          ...(incident.site !== undefined ? { site: incident.site } : {}),
          ...(incident.asset !== undefined ? { asset: incident.asset } : {}),
          ...(incident.assignee !== undefined ? { assignee: incident.assignee } : {}),
          ...(evidence.length > 0 ? { evidence: evidence.map((e) => e.asset) } : {}),
        },
      });
      if (announced) this.outbox?.enqueue(openedEntry(incident, this.incidentUrl));
      return incident;
    })();
  }

  /** Newest first, at most `limit` (default 100, max 1000). */
  list(options: IncidentFilter = {}): Incident[] {
    const where: string[] = [];
    const params: unknown[] = [];
    const filters: [keyof IncidentFilter, string][] = [
      ['status', 'status'], ['deviceId', 'device_id'], ['kind', 'kind'], ['site', 'site'], ['asset', 'asset'], ['assignee', 'assignee'],
    ];
    for (const [key, column] of filters) {
      if (options[key] !== undefined) { where.push(`${column} = ?`); params.push(options[key]); }
    }
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? DEFAULT_INCIDENT_PAGE)), MAX_INCIDENT_PAGE);
    const sql = `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, limit) as IncidentRow[]).map(toIncident);
  }

  get(id: number): IncidentReview | undefined {
    return this.db.transaction((): IncidentReview | undefined => {
      const row = this.stmt.get.get(id) as IncidentRow | undefined;
      if (!row) return undefined;
      return {
        incident: toTicket(row), comments: this.comments(id), history: this.history(id),
        evidence: (this.stmt.evidenceOf.all(id) as EvidenceRow[]).map((r) => toEvidence(r, true)),
      };
    })();
  }

  assign(id: number, assignee: string | null, actor: string): IncidentTicket {
    const to = assignee === null ? null : requiredText(assignee, 'the assignee', MAX_ASSIGNEE_LENGTH);
    const by = requiredText(actor, 'the actor', 300);
    return this.db.transaction((): IncidentTicket => {
      const before = this.row(id);
      if (before.status === 'closed') {
        throw new IncidentError('incident_closed', `incident ${id} is closed: it cannot be reassigned`, { incidentId: id });
      }
      // Assigning the same person again changes nothing, so it announces nothing either.
      if (before.assignee === to) return toTicket(before);
      const at = this.now();
      this.stmt.setAssignee.run(to, at, id);
      const after = this.row(id);
      this.change(id, at, by, 'assigned', { from: before.assignee, to });
      this.audit?.record({ actor: by, action: 'incident.assign', target: `incident:${id}`, detail: { from: before.assignee, to } });
      this.outbox?.enqueue(updatedEntry(toIncident(after), after.rev, this.incidentUrl));
      return toTicket(after);
    })();
  }

  comment(id: number, author: string, text: string): IncidentComment {
    const body = requiredText(text, 'the comment', MAX_COMMENT_LENGTH);
    const by = requiredText(author, 'the author', 300);
    return this.db.transaction((): IncidentComment => {
      this.row(id);
      const at = this.now();
      const { lastInsertRowid } = this.stmt.insertComment.run(id, at, by, body);
      const commentId = Number(lastInsertRowid);
      this.stmt.touch.run(at, id);
      this.change(id, at, by, 'commented', { commentId });
      this.audit?.record({ actor: by, action: 'incident.comment', target: `incident:${id}`, detail: { commentId, text: body } });
      return { id: commentId, incidentId: id, at, author: by, text: body };
    })();
  }

  setStatus(id: number, status: IncidentStatus, actor: string, note?: string): IncidentTicket {
    if (!isIncidentStatus(status)) throw invalid(`unknown incident status "${String(status)}"`, { status });
    const by = requiredText(actor, 'the actor', 300);
    const trimmed = note?.trim() || undefined;
    if (trimmed !== undefined && trimmed.length > MAX_NOTE_LENGTH) throw invalid(`the note is longer than ${MAX_NOTE_LENGTH} characters`);
    return this.db.transaction((): IncidentTicket => {
      const before = this.row(id);
      const from = before.status as IncidentStatus;
      checkTransition(id, from, status, trimmed);
      const at = this.now();
      this.stmt.setStatus.run(status, at, id);
      const after = this.row(id);
      const detail = { from, to: status, ...(trimmed !== undefined ? { note: trimmed } : {}) };
      this.change(id, at, by, 'status', detail);
      this.audit?.record({ actor: by, action: 'incident.status', target: `incident:${id}`, detail });
      this.outbox?.enqueue(updatedEntry(toIncident(after), after.rev, this.incidentUrl));
      return toTicket(after);
    })();
  }

  comments(id: number): IncidentComment[] {
    return (this.stmt.comments.all(id) as CommentRow[]).map(toComment);
  }

  history(id: number): IncidentChange[] {
    return (this.stmt.changes.all(id) as ChangeRow[]).map(toChange);
  }

  dueEvidence(now: number, limit: number): IncidentEvidence[] {
    return (this.stmt.due.all(now, Math.max(1, Math.trunc(limit))) as EvidenceRow[]).map((r) => toEvidence(r, false));
  }

  /**
   * Keeps the captured series, and records their SHA-256 in the history and the audit log: the
   * audit chain then shows if the evidence is edited in the database afterwards.
   */
  recordEvidence(evidenceId: number, series: EvidenceSeries[], at: number): void {
    const text = JSON.stringify(series);
    const sha256 = createHash('sha256').update(text).digest('hex');
    this.db.transaction(() => {
      const row = this.stmt.evidence.get(evidenceId) as EvidenceRow | undefined;
      if (!row || this.stmt.captured.run(at, text, evidenceId).changes === 0) return;
      const samples = series.reduce((n, s) => n + s.samples.length, 0);
      const detail = { evidenceId, asset: row.asset, state: 'captured', points: series.length, samples, sha256 };
      this.change(row.incident_id, at, 'system', 'evidence', detail);
      this.stmt.touch.run(at, row.incident_id);
      this.audit?.record({ actor: 'system', action: 'incident.evidence', target: `incident:${row.incident_id}`, detail });
    })();
  }

  recordEvidenceFailure(evidenceId: number, error: string, at: number, retryAt: number | null): void {
    this.db.transaction(() => {
      const row = this.stmt.evidence.get(evidenceId) as EvidenceRow | undefined;
      if (!row) return;
      const final = retryAt === null;
      if (this.stmt.failed.run(final ? 'failed' : 'pending', retryAt ?? row.due_at, error.slice(0, 500), evidenceId).changes === 0) return;
      // Retries are not history; giving up is, since the evidence is then missing for good.
      if (!final) return;
      const detail = { evidenceId, asset: row.asset, state: 'failed', error: error.slice(0, 500) };
      this.change(row.incident_id, at, 'system', 'evidence', detail);
      this.audit?.record({ actor: 'system', action: 'incident.evidence', target: `incident:${row.incident_id}`, detail });
    })();
  }

  private row(id: number): IncidentRow {
    const row = this.stmt.get.get(id) as IncidentRow | undefined;
    if (!row) throw new IncidentError('incident_not_found', `no incident ${id}`, { incidentId: id });
    return row;
  }

  private change(incidentId: number, at: number, actor: string, kind: IncidentChangeKind, detail: Record<string, unknown>): void {
    this.stmt.insertChange.run(incidentId, at, actor, kind, JSON.stringify(detail));
  }

  /** The captures a new incident asks for; DMOP incidents capture their asset unless they say otherwise. */
  private evidenceOf(input: IncidentInput, at: number): { site: string; asset: string; role?: string; points?: string[]; from: number; to: number }[] {
    const request: EvidenceRequest | undefined = input.evidence
      ?? ((DMOP_INCIDENT_KINDS as readonly string[]).includes(input.kind) && input.site !== undefined && input.asset !== undefined
        ? { targets: [{ asset: input.asset }] } : undefined);
    if (!request || request.targets.length === 0) return [];
    if (input.site === undefined) throw invalid('telemetry evidence needs the incident\'s site');
    const site = input.site;
    const around = request.at ?? at;
    if (!Number.isFinite(around)) throw invalid('the evidence time must be a number of ms', { at: around });
    const from = around - windowSide(request.beforeMs, this.beforeMs, 'beforeMs');
    const to = around + windowSide(request.afterMs, this.afterMs, 'afterMs');
    return request.targets.map((t) => ({
      site, asset: requiredText(t.asset, 'an evidence asset', 128), from, to,
      ...(t.role !== undefined ? { role: t.role } : {}),
      ...(t.points !== undefined ? { points: t.points.map((p) => requiredText(p, 'an evidence point', 128)) } : {}),
    }));
  }
}
