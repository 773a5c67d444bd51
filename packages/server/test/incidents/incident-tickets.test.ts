import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/audit/sqlite-audit-log.ts';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { INCIDENT_TRANSITIONS, INCIDENT_STATUSES, type IncidentStatus } from '../../src/incidents/incident-status.ts';
import { securityIncidents } from '../../src/incidents/security-incidents.ts';
import { SqliteIncidentLog } from '../../src/incidents/sqlite-incident-log.ts';
import type { SecurityIncidents } from '../../src/procedures/panel-supervisor.ts';
import { intrusion, MemoryOutbox, T0 } from './incident-fixture.ts';

let db: SqliteDatabase;
let audit: SqliteAuditLog;
let outbox: MemoryOutbox;
let log: SqliteIncidentLog;
let clock: number;

beforeEach(() => {
  clock = T0;
  db = openDatabase(':memory:');
  audit = new SqliteAuditLog(db, { now: () => clock });
  outbox = new MemoryOutbox();
  log = new SqliteIncidentLog(db, { now: () => clock, audit, outbox });
});
afterEach(() => db.close());

const incidentAudit = () => audit.list({ actionPrefix: 'incident.' }).map((e) => ({ actor: e.actor, action: e.action, detail: e.detail }));

describe('assign', () => {
  it('assigns, reassigns and unassigns, each a new revision announced in the same transaction', () => {
    const { id } = log.raise(intrusion());
    clock += 1000;
    expect(log.assign(id, 'bob', 'user:mia')).toMatchObject({ assignee: 'bob', rev: 1, updatedAt: T0 + 1000 });
    log.assign(id, 'carol', 'user:mia');
    const unassigned = log.assign(id, null, 'user:mia');
    expect(unassigned.assignee).toBeUndefined();
    expect(unassigned.rev).toBe(3);
    expect(outbox.keys()).toEqual([`incident:${id}:opened`, `incident:${id}:rev:1`, `incident:${id}:rev:2`, `incident:${id}:rev:3`]);
    expect(outbox.entries[1]).toMatchObject({ topic: 'incident.updated', payload: { incident: { id, assignee: 'bob', status: 'open' } } });
    expect(log.history(id).filter((c) => c.kind === 'assigned').map((c) => c.detail)).toEqual([
      { from: null, to: 'bob' }, { from: 'bob', to: 'carol' }, { from: 'carol', to: null },
    ]);
    expect(incidentAudit().filter((e) => e.action === 'incident.assign')).toEqual([
      { actor: 'user:mia', action: 'incident.assign', detail: { from: null, to: 'bob' } },
      { actor: 'user:mia', action: 'incident.assign', detail: { from: 'bob', to: 'carol' } },
      { actor: 'user:mia', action: 'incident.assign', detail: { from: 'carol', to: null } },
    ]);
  });

  it('changes nothing when the same person is assigned again', () => {
    const { id } = log.raise(intrusion({ assignee: 'bob' }));
    expect(log.assign(id, 'bob', 'user:mia').rev).toBe(0);
    expect(log.history(id).map((c) => c.kind)).toEqual(['opened']);
  });

  it('refuses an unknown incident, an empty assignee and a closed incident', () => {
    expect(() => log.assign(99, 'bob', 'user:mia')).toThrow(expect.objectContaining({ code: 'incident_not_found' }));
    const { id } = log.raise(intrusion());
    expect(() => log.assign(id, '  ', 'user:mia')).toThrow(expect.objectContaining({ code: 'incident_invalid' }));
    log.setStatus(id, 'closed', 'user:mia', 'duplicate of #1');
    expect(() => log.assign(id, 'bob', 'user:mia')).toThrow(expect.objectContaining({ code: 'incident_closed' }));
  });

  it('keeps the assignment when its announcement cannot be written', () => {
    const { id } = log.raise(intrusion());
    outbox.failNext = true;
    expect(() => log.assign(id, 'bob', 'user:mia')).toThrow(/outbox/);
    expect(log.get(id)!.incident).toMatchObject({ rev: 0 });
    expect(log.get(id)!.incident.assignee).toBeUndefined();
    expect(log.history(id).map((c) => c.kind)).toEqual(['opened']);
    expect(incidentAudit().map((e) => e.action)).toEqual(['incident.open']);
  });
});

describe('comment', () => {
  it('adds comments oldest first, in the history and the audit log, without a new revision', () => {
    const { id } = log.raise(intrusion());
    clock += 5000;
    const c = log.comment(id, 'user:alice', '  Door was left ajar by the cleaning crew.  ');
    log.comment(id, 'token:t1', 'Camera footage attached to WO-7.');
    expect(c).toEqual({ id: 1, incidentId: id, at: T0 + 5000, author: 'user:alice', text: 'Door was left ajar by the cleaning crew.' });
    expect(log.comments(id).map((x) => x.author)).toEqual(['user:alice', 'token:t1']);
    expect(log.get(id)!.incident).toMatchObject({ rev: 0, updatedAt: T0 + 5000 });
    expect(log.history(id).map((x) => [x.kind, x.actor])).toEqual([['opened', 'system'], ['commented', 'user:alice'], ['commented', 'token:t1']]);
    expect(incidentAudit()[1]).toEqual({ actor: 'user:alice', action: 'incident.comment', detail: { commentId: 1, text: 'Door was left ajar by the cleaning crew.' } });
    expect(outbox.keys()).toEqual([`incident:${id}:opened`]);
  });

  it('refuses an empty or over-long comment and an unknown incident', () => {
    const { id } = log.raise(intrusion());
    expect(() => log.comment(id, 'user:alice', ' ')).toThrow(expect.objectContaining({ code: 'incident_invalid' }));
    expect(() => log.comment(id, 'user:alice', 'x'.repeat(4001))).toThrow(expect.objectContaining({ code: 'incident_invalid' }));
    expect(() => log.comment(42, 'user:alice', 'hello')).toThrow(expect.objectContaining({ code: 'incident_not_found' }));
    expect(log.comments(id)).toEqual([]);
  });
});

describe('setStatus', () => {
  it('walks open → acknowledged → resolved → closed, each step in history, audit and outbox', () => {
    const { id } = log.raise(intrusion());
    clock += 1000;
    expect(log.setStatus(id, 'acknowledged', 'user:mia')).toMatchObject({ status: 'acknowledged', rev: 1 });
    clock += 1000;
    log.setStatus(id, 'resolved', 'user:mia', 'Badge reader fixed; door re-latched');
    clock += 1000;
    expect(log.setStatus(id, 'closed', 'user:boss')).toMatchObject({ status: 'closed', rev: 3, updatedAt: T0 + 3000 });
    expect(log.history(id).filter((c) => c.kind === 'status').map((c) => [c.actor, c.at, c.detail])).toEqual([
      ['user:mia', T0 + 1000, { from: 'open', to: 'acknowledged' }],
      ['user:mia', T0 + 2000, { from: 'acknowledged', to: 'resolved', note: 'Badge reader fixed; door re-latched' }],
      ['user:boss', T0 + 3000, { from: 'resolved', to: 'closed' }],
    ]);
    expect(incidentAudit().filter((e) => e.action === 'incident.status').map((e) => e.detail)).toEqual([
      { from: 'open', to: 'acknowledged' },
      { from: 'acknowledged', to: 'resolved', note: 'Badge reader fixed; door re-latched' },
      { from: 'resolved', to: 'closed' },
    ]);
    expect(outbox.entries.slice(1).map((e) => [e.idempotencyKey, (e.payload.incident as { status: string }).status])).toEqual([
      [`incident:${id}:rev:1`, 'acknowledged'], [`incident:${id}:rev:2`, 'resolved'], [`incident:${id}:rev:3`, 'closed'],
    ]);
    expect(log.list({ status: 'closed' }).map((i) => i.id)).toEqual([id]);
  });

  it('reopens a resolved incident with a note, and resolves it again', () => {
    const { id } = log.raise(intrusion());
    log.setStatus(id, 'resolved', 'user:mia', 'door re-latched');
    expect(log.setStatus(id, 'open', 'user:mia', 'opened again the next night').status).toBe('open');
    expect(log.setStatus(id, 'resolved', 'user:mia', 'lock replaced').rev).toBe(3);
  });

  it('needs a note to resolve, to close unresolved and to reopen', () => {
    const { id } = log.raise(intrusion());
    expect(() => log.setStatus(id, 'resolved', 'user:mia')).toThrow(expect.objectContaining({ code: 'incident_note_required' }));
    expect(() => log.setStatus(id, 'closed', 'user:mia', '   ')).toThrow(expect.objectContaining({ code: 'incident_note_required' }));
    log.setStatus(id, 'resolved', 'user:mia', 'fixed');
    expect(() => log.setStatus(id, 'open', 'user:mia')).toThrow(expect.objectContaining({ code: 'incident_note_required' }));
    expect(log.get(id)!.incident.status).toBe('resolved');
  });

  it('refuses moves the table does not have, saying which there are', () => {
    const { id } = log.raise(intrusion());
    log.setStatus(id, 'acknowledged', 'user:mia');
    expect(() => log.setStatus(id, 'open', 'user:mia', 'why not')).toThrow(expect.objectContaining({
      code: 'incident_transition_invalid', details: { incidentId: id, from: 'acknowledged', to: 'open', allowed: ['resolved', 'closed'] },
    }));
    expect(() => log.setStatus(id, 'acknowledged', 'user:mia')).toThrow(expect.objectContaining({ code: 'incident_transition_invalid' }));
    log.setStatus(id, 'closed', 'user:mia', 'false alarm: door sensor test');
    expect(() => log.setStatus(id, 'open', 'user:mia', 'again')).toThrow(/closed: raise a new incident/);
    expect(() => log.setStatus(id, 'bogus' as IncidentStatus, 'user:mia')).toThrow(expect.objectContaining({ code: 'incident_invalid' }));
  });

  it('has a transition table over every status, with closed final', () => {
    expect(Object.keys(INCIDENT_TRANSITIONS).sort()).toEqual([...INCIDENT_STATUSES].sort());
    expect(INCIDENT_TRANSITIONS.closed).toEqual([]);
    for (const moves of Object.values(INCIDENT_TRANSITIONS)) for (const m of moves) expect(INCIDENT_STATUSES).toContain(m.to);
  });
});

describe('get', () => {
  it('returns the ticket with its comments, history and evidence, or undefined', () => {
    const { id } = log.raise(intrusion());
    log.assign(id, 'bob', 'user:mia');
    log.comment(id, 'user:bob', 'on my way');
    const review = log.get(id)!;
    expect(review.incident).toMatchObject({ id, assignee: 'bob', rev: 1 });
    expect(review.comments.map((c) => c.text)).toEqual(['on my way']);
    expect(review.history.map((c) => c.kind)).toEqual(['opened', 'assigned', 'commented']);
    expect(review.evidence).toHaveLength(1);
    expect(log.get(id + 1)).toBeUndefined();
  });
});

describe('securityIncidents', () => {
  it('opens the panel supervisor\'s incidents announced, assigned, with the panel\'s and the other assets\' telemetry around the moment', () => {
    const opener: SecurityIncidents = securityIncidents(log);
    const at = T0 - 30_000;
    const id = opener.open({
      kind: 'panel.intrusion', severity: 'critical', site: 'dc1', asset: 'PANEL-LP-4B', reason: 'door-opened-uncovered',
      summary: 'Panel PANEL-LP-4B door opened', assignee: 'mia', detail: { panel: 'PANEL-LP-4B' }, captureAssets: ['PANEL-LP-4B', 'PDU-A12'], at,
    }) as number;
    const review = log.get(id)!;
    expect(review.incident).toMatchObject({ kind: 'panel.intrusion', assignee: 'mia', site: 'dc1', asset: 'PANEL-LP-4B' });
    expect(review.evidence.map((e) => [e.asset, e.role, e.from, e.to])).toEqual([
      ['PANEL-LP-4B', 'panel', at - 5 * 60_000, at + 5 * 60_000], ['PDU-A12', undefined, at - 5 * 60_000, at + 5 * 60_000],
    ]);
    expect(outbox.keys()).toEqual([`incident:${id}:opened`]);
    expect(opener.open({
      kind: 'procedure.deviation', severity: 'high', site: 'dc1', asset: 'PANEL-LP-4B', reason: 'out-of-order', summary: 's',
      assignee: undefined, detail: {}, captureAssets: [], at,
    })).toBe(id + 1);
    expect(log.get(id + 1)!.incident.assignee).toBeUndefined();
  });
});
