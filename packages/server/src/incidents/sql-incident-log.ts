/**
 * Incidents and their tickets in the server's database, SQLite or PostgreSQL. Each change is one
 * transaction holding the change, its history line, its audit event and its outbox notice: either
 * all of them happened or none did. A raiser bound to a caller's transaction (`raiserIn(tx)`)
 * writes all of that in the caller's transaction, so the fleet's quarantine and its incident
 * commit together.
 *
 * Read-modify-write of a ticket (assign, status) locks the incident's row on PostgreSQL
 * (`SELECT ... FOR UPDATE`), so two replicas moving one ticket at once are serialised and each sees
 * the other's move; on SQLite the transaction holds the database's only write lock.
 */
import { createHash } from 'node:crypto';
import type { Generated, Kysely, Selectable } from 'kysely';
import type { AuditEventInput, AuditRecorder } from '../audit/audit-log.ts';
import { inTransaction, type SqlEngine, type SqlExecutor } from '../db/sql-database.ts';
import type { TransactionHooks } from '../db/unit-of-work.ts';
import type { OutboxEntry, OutboxWriter } from '../notifications/outbox.ts';
import { IncidentError } from './incident-error.ts';
import type { EvidenceStore } from './incident-evidence.ts';
import {
  DMOP_INCIDENT_KINDS, INCIDENT_SEVERITIES, MAX_ASSIGNEE_LENGTH, MAX_COMMENT_LENGTH, MAX_NOTE_LENGTH, type EvidenceRequest, type EvidenceSeries,
  type Incident, type IncidentChange, type IncidentChangeKind, type IncidentComment, type IncidentEvidence, type IncidentFilter, type IncidentInput,
  type IncidentRaiser, type IncidentReview, type IncidentTicket, type IncidentTickets,
} from './incident-log.ts';
import { isAnnounced, openedEntry, updatedEntry, type IncidentUrl } from './incident-outbox.ts';
import { checkTransition, isIncidentStatus, type IncidentStatus } from './incident-status.ts';

export const MAX_INCIDENT_PAGE = 1000;
const DEFAULT_INCIDENT_PAGE = 100;
/** An evidence window longer than this is a mistake, not evidence (and would be a large read). */
const MAX_EVIDENCE_SIDE_MS = 60 * 60_000;
const DEFAULT_EVIDENCE_SIDE_MS = 5 * 60_000;
const DEFAULT_SETTLE_MS = 60_000;

interface IncidentTables {
  incidents: {
    id: Generated<number>; opened_at: number; kind: string; severity: string; device_id: string | null; reason: string; summary: string;
    detail: string; status: Generated<string>; site: string | null; asset: string | null; assignee: string | null; rev: Generated<number>;
    updated_at: number;
  };
  incident_comments: { id: Generated<number>; incident_id: number; at: number; author: string; text: string };
  incident_changes: { seq: Generated<number>; incident_id: number; at: number; actor: string; kind: string; detail: string };
  incident_evidence: {
    id: Generated<number>; incident_id: number; site: string; asset: string; role: string | null; points: string | null; from_ms: number;
    to_ms: number; due_at: number; state: Generated<string>; attempts: Generated<number>; captured_at: number | null; series: string | null;
    error: string | null;
  };
}
type IncidentRow = Selectable<IncidentTables['incidents']>;
type CommentRow = Selectable<IncidentTables['incident_comments']>;
type ChangeRow = Selectable<IncidentTables['incident_changes']>;
type EvidenceRow = Selectable<IncidentTables['incident_evidence']>;

const tables = (exec: SqlExecutor) => exec as Kysely<IncidentTables>;

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

function toEvidence(r: Omit<EvidenceRow, 'series'> & { series?: string | null }, withSeries: boolean): IncidentEvidence {
  return {
    id: r.id, incidentId: r.incident_id, site: r.site, asset: r.asset,
    ...(r.role !== null ? { role: r.role } : {}),
    ...(r.points !== null ? { points: JSON.parse(r.points) as string[] } : {}),
    from: r.from_ms, to: r.to_ms, dueAt: r.due_at, state: r.state as IncidentEvidence['state'], attempts: r.attempts,
    ...(r.captured_at !== null ? { capturedAt: r.captured_at } : {}),
    ...(withSeries && typeof r.series === 'string' ? { series: JSON.parse(r.series) as EvidenceSeries[] } : {}),
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

/** The audit log as the incidents write to it: a recorder bound to the change's transaction (SqlAuditLog). */
export interface TransactionalAudit {
  recorderIn(tx: SqlExecutor): AuditRecorder;
}

/** The outbox as the incidents write to it: a writer bound to the change's transaction (SqlOutboxStore). */
export interface TransactionalOutbox {
  writerIn(tx: SqlExecutor): OutboxWriter;
}

export interface SqlIncidentLogOptions {
  /** Which engine `exec` runs on: PostgreSQL locks a ticket's row while changing it. */
  engine: SqlEngine;
  now?: () => number;
  /** Every change is recorded here (incident.open, .assign, .comment, .status, .evidence). The server always passes one. */
  audit?: TransactionalAudit;
  /** Announcements, enqueued in the change's transaction (incident-outbox.ts). */
  outbox?: TransactionalOutbox;
  /**
   * Called once a change that enqueued an announcement has committed (the dispatcher's kick). For a
   * raiser bound to a caller's transaction the commit is the caller's: it is called right after the
   * enqueue, and the dispatcher reads only what committed (its poll covers a read that came early).
   */
  onAnnounced?: () => void;
  /** The dashboard address of an incident, sent with announcements (e.g. `(id) => \`${origin}/incidents/${id}\``). */
  incidentUrl?: IncidentUrl;
  /** Default evidence window around the incident (5 min before, 5 min after). */
  evidenceWindow?: { beforeMs?: number; afterMs?: number };
  /** How long after the window ends it is read (default 60 s), so late store-and-forward telemetry is in it. */
  evidenceSettleMs?: number;
}

interface Resolved {
  engine: SqlEngine;
  now: () => number;
  audit: TransactionalAudit | undefined;
  outbox: TransactionalOutbox | undefined;
  onAnnounced: () => void;
  incidentUrl: IncidentUrl | undefined;
  beforeMs: number;
  afterMs: number;
  settleMs: number;
}

/** What one transaction of a change writes besides its own rows. */
interface ChangeEffects {
  audit: (event: AuditEventInput) => Promise<void>;
  announce: (entry: OutboxEntry) => Promise<void>;
}

export class SqlIncidentLog implements IncidentTickets, EvidenceStore {
  private readonly exec: SqlExecutor;
  private readonly options: SqlIncidentLogOptions;
  private readonly o: Resolved;

  constructor(exec: SqlExecutor, options: SqlIncidentLogOptions) {
    this.exec = exec;
    this.options = options;
    this.o = {
      engine: options.engine,
      now: options.now ?? Date.now,
      audit: options.audit,
      outbox: options.outbox,
      onAnnounced: options.onAnnounced ?? (() => undefined),
      incidentUrl: options.incidentUrl,
      beforeMs: windowSide(options.evidenceWindow?.beforeMs, DEFAULT_EVIDENCE_SIDE_MS, 'beforeMs'),
      afterMs: windowSide(options.evidenceWindow?.afterMs, DEFAULT_EVIDENCE_SIDE_MS, 'afterMs'),
      settleMs: options.evidenceSettleMs ?? DEFAULT_SETTLE_MS,
    };
  }

  /**
   * A raiser whose incidents (with their history, evidence request, audit event and notice) are
   * written in `tx`, the caller's transaction: they commit with the change that caused them.
   */
  raiserIn(tx: SqlExecutor, hooks?: TransactionHooks): IncidentRaiser {
    const raiser = new SqlIncidentLog(tx, this.options);
    raiser.hooks = hooks;
    return raiser;
  }

  /** Set on a raiser bound to a unit of work: wakes the dispatcher once the caller's transaction commits. */
  private hooks: TransactionHooks | undefined;

  async raise(input: IncidentInput): Promise<Incident> {
    if (!(INCIDENT_SEVERITIES as readonly string[]).includes(input.severity)) {
      throw invalid(`unknown incident severity "${String(input.severity)}"`, { severity: input.severity });
    }
    const at = this.o.now();
    const evidence = this.evidenceOf(input, at);
    const assignee = input.assignee !== undefined ? requiredText(input.assignee, 'the assignee', MAX_ASSIGNEE_LENGTH) : null;
    const announced = isAnnounced(input);
    return this.change(async (tx, effects) => {
      const row = await tables(tx).insertInto('incidents').values({
        opened_at: at, updated_at: at, kind: input.kind, severity: input.severity, device_id: input.deviceId ?? null, site: input.site ?? null,
        asset: input.asset ?? null, assignee, reason: input.reason, summary: input.summary, detail: JSON.stringify(input.detail ?? {}),
      }).returningAll().executeTakeFirstOrThrow();
      const incident = toIncident(row);
      await this.addHistory(tx, incident.id, at, 'system', 'opened', { kind: incident.kind, severity: incident.severity, reason: incident.reason, announced });
      if (evidence.length > 0) {
        await tables(tx).insertInto('incident_evidence').values(evidence.map((e) => ({
          incident_id: incident.id, site: e.site, asset: e.asset, role: e.role ?? null, points: e.points ? JSON.stringify(e.points) : null,
          from_ms: e.from, to_ms: e.to, due_at: e.to + this.o.settleMs,
        }))).execute();
      }
      await effects.audit({
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
      if (announced) await effects.announce(openedEntry(incident, this.o.incidentUrl));
      return incident;
    });
  }

  /** Newest first, at most `limit` (default 100, max 1000). */
  async list(options: IncidentFilter = {}): Promise<Incident[]> {
    let query = tables(this.exec).selectFrom('incidents').selectAll();
    if (options.status !== undefined) query = query.where('status', '=', options.status);
    if (options.deviceId !== undefined) query = query.where('device_id', '=', options.deviceId);
    if (options.kind !== undefined) query = query.where('kind', '=', options.kind);
    if (options.site !== undefined) query = query.where('site', '=', options.site);
    if (options.asset !== undefined) query = query.where('asset', '=', options.asset);
    if (options.assignee !== undefined) query = query.where('assignee', '=', options.assignee);
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? DEFAULT_INCIDENT_PAGE)), MAX_INCIDENT_PAGE);
    return (await query.orderBy('id', 'desc').limit(limit).execute()).map(toIncident);
  }

  async get(id: number): Promise<IncidentReview | undefined> {
    const row = await this.find(this.exec, id);
    if (!row) return undefined;
    const evidence = await tables(this.exec).selectFrom('incident_evidence').selectAll().where('incident_id', '=', id).orderBy('id', 'asc').execute();
    return {
      incident: toTicket(row), comments: await this.comments(id), history: await this.history(id),
      evidence: evidence.map((r) => toEvidence(r, true)),
    };
  }

  async assign(id: number, assignee: string | null, actor: string): Promise<IncidentTicket> {
    const to = assignee === null ? null : requiredText(assignee, 'the assignee', MAX_ASSIGNEE_LENGTH);
    const by = requiredText(actor, 'the actor', 300);
    return this.change(async (tx, effects) => {
      const before = await this.lockedRow(tx, id);
      if (before.status === 'closed') {
        throw new IncidentError('incident_closed', `incident ${id} is closed: it cannot be reassigned`, { incidentId: id });
      }
      // Assigning the same person again changes nothing, so it announces nothing either.
      if (before.assignee === to) return toTicket(before);
      const at = this.o.now();
      const after = await tables(tx).updateTable('incidents').set((eb) => ({ assignee: to, rev: eb('rev', '+', 1), updated_at: at }))
        .where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      await this.addHistory(tx, id, at, by, 'assigned', { from: before.assignee, to });
      await effects.audit({ actor: by, action: 'incident.assign', target: `incident:${id}`, detail: { from: before.assignee, to } });
      await effects.announce(updatedEntry(toIncident(after), after.rev, this.o.incidentUrl));
      return toTicket(after);
    });
  }

  async comment(id: number, author: string, text: string): Promise<IncidentComment> {
    const body = requiredText(text, 'the comment', MAX_COMMENT_LENGTH);
    const by = requiredText(author, 'the author', 300);
    return this.change(async (tx, effects) => {
      await this.lockedRow(tx, id);
      const at = this.o.now();
      const { id: commentId } = await tables(tx).insertInto('incident_comments').values({ incident_id: id, at, author: by, text: body })
        .returning('id').executeTakeFirstOrThrow();
      await tables(tx).updateTable('incidents').set({ updated_at: at }).where('id', '=', id).execute();
      await this.addHistory(tx, id, at, by, 'commented', { commentId });
      await effects.audit({ actor: by, action: 'incident.comment', target: `incident:${id}`, detail: { commentId, text: body } });
      return { id: commentId, incidentId: id, at, author: by, text: body };
    });
  }

  async setStatus(id: number, status: IncidentStatus, actor: string, note?: string): Promise<IncidentTicket> {
    if (!isIncidentStatus(status)) throw invalid(`unknown incident status "${String(status)}"`, { status });
    const by = requiredText(actor, 'the actor', 300);
    const trimmed = note?.trim() || undefined;
    if (trimmed !== undefined && trimmed.length > MAX_NOTE_LENGTH) throw invalid(`the note is longer than ${MAX_NOTE_LENGTH} characters`);
    return this.change(async (tx, effects) => {
      const before = await this.lockedRow(tx, id);
      const from = before.status as IncidentStatus;
      checkTransition(id, from, status, trimmed);
      const at = this.o.now();
      const after = await tables(tx).updateTable('incidents').set((eb) => ({ status, rev: eb('rev', '+', 1), updated_at: at }))
        .where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      const detail = { from, to: status, ...(trimmed !== undefined ? { note: trimmed } : {}) };
      await this.addHistory(tx, id, at, by, 'status', detail);
      await effects.audit({ actor: by, action: 'incident.status', target: `incident:${id}`, detail });
      await effects.announce(updatedEntry(toIncident(after), after.rev, this.o.incidentUrl));
      return toTicket(after);
    });
  }

  async comments(id: number): Promise<IncidentComment[]> {
    const rows = await tables(this.exec).selectFrom('incident_comments').selectAll().where('incident_id', '=', id).orderBy('id', 'asc').execute();
    return rows.map(toComment);
  }

  async history(id: number): Promise<IncidentChange[]> {
    const rows = await tables(this.exec).selectFrom('incident_changes').selectAll().where('incident_id', '=', id).orderBy('seq', 'asc').execute();
    return rows.map(toChange);
  }

  async dueEvidence(now: number, limit: number): Promise<IncidentEvidence[]> {
    const rows = await tables(this.exec).selectFrom('incident_evidence')
      .select(['id', 'incident_id', 'site', 'asset', 'role', 'points', 'from_ms', 'to_ms', 'due_at', 'state', 'attempts', 'captured_at', 'error'])
      .where('state', '=', 'pending').where('due_at', '<=', now)
      .orderBy('due_at', 'asc').orderBy('id', 'asc').limit(Math.max(1, Math.trunc(limit)))
      .execute();
    return rows.map((r) => toEvidence(r, false));
  }

  /**
   * Keeps the captured series, and records their SHA-256 in the history and the audit log: the
   * audit chain then shows if the evidence is edited in the database afterwards.
   */
  async recordEvidence(evidenceId: number, series: EvidenceSeries[], at: number): Promise<void> {
    const text = JSON.stringify(series);
    const sha256 = createHash('sha256').update(text).digest('hex');
    await this.change(async (tx, effects) => {
      const row = await tables(tx).updateTable('incident_evidence')
        .set((eb) => ({ state: 'captured', captured_at: at, series: text, error: null, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', evidenceId).where('state', '=', 'pending')
        .returning(['incident_id', 'asset']).executeTakeFirst();
      // Already captured or given up on (by another server, or a repeated call): the first outcome stands.
      if (!row) return;
      const samples = series.reduce((n, s) => n + s.samples.length, 0);
      const detail = { evidenceId, asset: row.asset, state: 'captured', points: series.length, samples, sha256 };
      await this.addHistory(tx, row.incident_id, at, 'system', 'evidence', detail);
      await tables(tx).updateTable('incidents').set({ updated_at: at }).where('id', '=', row.incident_id).execute();
      await effects.audit({ actor: 'system', action: 'incident.evidence', target: `incident:${row.incident_id}`, detail });
    });
  }

  async recordEvidenceFailure(evidenceId: number, error: string, at: number, retryAt: number | null): Promise<void> {
    const final = retryAt === null;
    const reason = error.slice(0, 500);
    await this.change(async (tx, effects) => {
      const row = await tables(tx).updateTable('incident_evidence')
        .set((eb) => ({ state: final ? 'failed' : 'pending', due_at: retryAt ?? eb.ref('due_at'), error: reason, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', evidenceId).where('state', '=', 'pending')
        .returning(['incident_id', 'asset']).executeTakeFirst();
      // Retries are not history; giving up is, since the evidence is then missing for good.
      if (!row || !final) return;
      const detail = { evidenceId, asset: row.asset, state: 'failed', error: reason };
      await this.addHistory(tx, row.incident_id, at, 'system', 'evidence', detail);
      await effects.audit({ actor: 'system', action: 'incident.evidence', target: `incident:${row.incident_id}`, detail });
    });
  }

  /**
   * Runs one change in a transaction (this log's own, or the caller's it is bound to), with its
   * audit event and notices written in the same transaction; tells `onAnnounced` after the commit.
   */
  private async change<T>(work: (tx: SqlExecutor, effects: ChangeEffects) => Promise<T>): Promise<T> {
    let announced = false;
    const ownTransaction = !this.exec.isTransaction;
    const result = await inTransaction(this.exec, (tx) => work(tx, {
      audit: async (event) => { await this.o.audit?.recorderIn(tx).record(event); },
      announce: async (entry) => {
        if (this.o.outbox && await this.o.outbox.writerIn(tx).enqueue(entry)) announced = true;
      },
    }));
    if (announced) {
      if (ownTransaction) this.o.onAnnounced();
      else if (this.hooks) this.hooks.afterCommit(this.o.onAnnounced);
      // Bound without hooks: the notice is delivered by the dispatcher's next poll at the latest.
      else queueMicrotask(this.o.onAnnounced);
    }
    return result;
  }

  /** Adds a line to an incident's history, in the change's transaction. */
  private async addHistory(tx: SqlExecutor, incidentId: number, at: number, actor: string, kind: IncidentChangeKind, detail: Record<string, unknown>): Promise<void> {
    await tables(tx).insertInto('incident_changes').values({ incident_id: incidentId, at, actor, kind, detail: JSON.stringify(detail) }).execute();
  }

  private async find(exec: SqlExecutor, id: number): Promise<IncidentRow | undefined> {
    return tables(exec).selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The incident's row, locked for the rest of `tx` on PostgreSQL; IncidentError when there is none. */
  private async lockedRow(tx: SqlExecutor, id: number): Promise<IncidentRow> {
    let query = tables(tx).selectFrom('incidents').selectAll().where('id', '=', id);
    if (this.o.engine === 'postgres') query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row) throw new IncidentError('incident_not_found', `no incident ${id}`, { incidentId: id });
    return row;
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
    const from = around - windowSide(request.beforeMs, this.o.beforeMs, 'beforeMs');
    const to = around + windowSide(request.afterMs, this.o.afterMs, 'afterMs');
    return request.targets.map((t) => ({
      site, asset: requiredText(t.asset, 'an evidence asset', 128), from, to,
      ...(t.role !== undefined ? { role: t.role } : {}),
      ...(t.points !== undefined ? { points: t.points.map((p) => requiredText(p, 'an evidence point', 128)) } : {}),
    }));
  }
}
