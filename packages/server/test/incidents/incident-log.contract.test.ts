/**
 * The contract of the incident ports (IncidentRaiser, IncidentLog, IncidentTickets and the
 * evidence store, STYLE.md §2), on every engine: raising, listing, the ticket's moves with their
 * history, audit events and announcements — each change whole or not at all, in the log's own
 * transaction or in the caller's unit of work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { runMigrations } from '../../src/db/migrations.ts';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { INCIDENT_MIGRATIONS } from '../../src/incidents/incident-schema.ts';
import type { IncidentInput } from '../../src/incidents/incident-log.ts';
import { INCIDENT_STATUSES, INCIDENT_TRANSITIONS, type IncidentStatus } from '../../src/incidents/incident-status.ts';
import { securityIncidents } from '../../src/incidents/security-incidents.ts';
import { SqlIncidentLog } from '../../src/incidents/sql-incident-log.ts';
import type { SecurityIncidents } from '../../src/procedures/panel-supervisor.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { deviation, intrusion, MINUTE, openIncidents, T0, type IncidentsUnderTest } from './incident-fixture.ts';

const DEV_A = 'a'.repeat(64);
const DEV_B = 'b'.repeat(64);

const failed = (deviceId: string, reason: string): IncidentInput => ({
  kind: 'attestation_failed', severity: 'high', deviceId, reason, summary: `attestation refused: ${reason}`,
  detail: { swversion: '1.2.3', measurements: [{ component: 'runtime', digest: 'ab'.repeat(32) }] },
});

describe.each(SQL_ENGINES)('IncidentLog on %s', (engine) => {
  let t: TestDatabase;
  let u: IncidentsUnderTest;
  let log: SqlIncidentLog;
  let clock: number;

  beforeEach(async () => {
    clock = T0;
    t = await createTestDatabase(engine, 'incidents');
    await migrateServerDatabase(t.database);
    u = await openIncidents(t.database, { now: () => clock });
    log = u.log;
  });
  afterEach(async () => { await t.destroy(); });

  const incidentAudit = async () => (await u.audit.list({ actionPrefix: 'incident.' })).map((e) => ({ actor: e.actor, action: e.action, detail: e.detail }));
  const count = async (table: string) => (await t.database.db.selectFrom(table).selectAll().execute()).length;

  describe('raise and list', () => {
    it('raises an open incident with an id, the injected time and its detail', async () => {
      const incident = await log.raise(failed(DEV_A, 'measurements_mismatch'));
      expect(incident).toEqual({ id: 1, openedAt: T0, status: 'open', ...failed(DEV_A, 'measurements_mismatch') });
      expect(await log.list({})).toEqual([incident]);
    });

    it('keeps incidents without a device', async () => {
      const incident = await log.raise({ kind: 'ca_rotation_failed', severity: 'critical', reason: 'pki_io', summary: 's', detail: {} });
      expect(incident.deviceId).toBeUndefined();
      expect((await log.list({}))[0]).toEqual(incident);
    });

    it('lists newest first, filtered by device and status, bounded by limit', async () => {
      await log.raise(failed(DEV_A, 'nonce_replayed'));
      clock += 1;
      await log.raise(failed(DEV_B, 'version_below_minimum'));
      clock += 1;
      await log.raise(failed(DEV_A, 'measurements_mismatch'));
      expect((await log.list({})).map((i) => i.reason)).toEqual(['measurements_mismatch', 'version_below_minimum', 'nonce_replayed']);
      expect((await log.list({ deviceId: DEV_A })).map((i) => i.id)).toEqual([3, 1]);
      expect(await log.list({ limit: 1 })).toHaveLength(1);
      expect(await log.list({ status: 'open' })).toHaveLength(3);
      expect(await log.list({ status: 'closed' })).toEqual([]);
    });

    it('refuses an unknown severity with a coded error', async () => {
      await expect(log.raise({ ...failed(DEV_A, 'x'), severity: 'urgent' as 'high' })).rejects.toMatchObject({
        code: 'incident_invalid', message: expect.stringMatching(/severity/),
      });
    });

    it('keeps the site, asset and assignee of a DMOP incident and filters by them and by kind', async () => {
      const a = await log.raise(intrusion({ assignee: 'bob' }));
      await log.raise(deviation({ site: 'dc2', asset: 'PANEL-1' }));
      await log.raise(failed(DEV_A, 'nonce_replayed'));
      expect(a).toMatchObject({ site: 'dc1', asset: 'PANEL-LP-4B', assignee: 'bob', kind: 'panel.intrusion' });
      expect((await log.list({ site: 'dc1' })).map((i) => i.id)).toEqual([1]);
      expect((await log.list({ kind: 'procedure.deviation' })).map((i) => i.site)).toEqual(['dc2']);
      expect((await log.list({ assignee: 'bob' })).map((i) => i.id)).toEqual([1]);
      expect((await log.list({ asset: 'PANEL-1' })).map((i) => i.id)).toEqual([2]);
      // Exact, case and all, on both engines.
      expect(await log.list({ site: 'DC1' })).toEqual([]);
    });

    it('records the opening in the history and the audit log', async () => {
      const i = await log.raise(intrusion());
      expect(await log.history(i.id)).toEqual([expect.objectContaining({ seq: 1, at: T0, actor: 'system', kind: 'opened' })]);
      expect(await u.audit.list({})).toEqual([expect.objectContaining({
        actor: 'system', action: 'incident.open', target: `incident:${i.id}`,
        detail: expect.objectContaining({ kind: 'panel.intrusion', severity: 'critical', site: 'dc1', asset: 'PANEL-LP-4B' }),
      })]);
    });
  });

  describe('announcing new incidents', () => {
    it('announces high and critical incidents by default, with the incident summary and no detail', async () => {
      const i = await log.raise(intrusion());
      await log.raise({ ...failed(DEV_A, 'evidence_malformed'), severity: 'low' });
      expect(await u.entries()).toEqual([{
        topic: 'incident.opened', idempotencyKey: `incident:${i.id}:opened`,
        payload: { incident: { id: i.id, kind: 'panel.intrusion', severity: 'critical', status: 'open', summary: i.summary, openedAt: T0, site: 'dc1', asset: 'PANEL-LP-4B' } },
      }]);
      expect(u.announced).toBe(1);
    });

    it('follows notify when the raiser says', async () => {
      await log.raise(deviation({ notify: true, severity: 'low' }));
      await log.raise({ ...failed(DEV_A, 'nonce_replayed'), notify: false });
      expect(await u.keys()).toEqual(['incident:1:opened']);
    });

    it('adds the dashboard address when it knows it', async () => {
      const withUrl = new SqlIncidentLog(t.database.db, { engine, now: () => clock, outbox: u.outbox, incidentUrl: (id) => `https://sg.example/incidents/${id}` });
      await withUrl.raise(intrusion());
      expect((await u.entries())[0]!.payload).toMatchObject({ incident: { url: 'https://sg.example/incidents/1' } });
    });

    it('raises nothing when the outbox cannot take the announcement: incident, history, evidence and audit roll back together', async () => {
      u.failNextEnqueue = true;
      await expect(log.raise(intrusion())).rejects.toThrow(/outbox/);
      expect(await log.list({})).toEqual([]);
      expect(await u.audit.list({ actionPrefix: 'incident.' })).toEqual([]);
      expect(await count('incident_changes')).toBe(0);
      expect(await count('incident_evidence')).toBe(0);
      expect(u.announced).toBe(0);
      expect((await u.audit.verify()).ok).toBe(true);
    });
  });

  describe('raising in the caller\'s unit of work', () => {
    const uow = () => sqlUnitOfWork(t.database, (tx) => ({
      incidents: log.raiserIn(tx),
      audit: u.audit.recorderIn(tx),
    }));

    it('commits the incident, its audit event and its notice with the change that caused it', async () => {
      const raised = await uow().run(async ({ incidents, audit }) => {
        await audit.record({ actor: 'system', action: 'device.quarantine', target: `device:${DEV_A}`, detail: {} });
        return incidents.raise(failed(DEV_A, 'nonce_replayed'));
      });
      expect(await log.list({})).toEqual([raised]);
      expect((await u.audit.list({})).map((e) => e.action)).toEqual(['device.quarantine', 'incident.open']);
      expect(await u.keys()).toEqual([`incident:${raised.id}:opened`]);
      // The commit is the caller's: the dispatcher is told right after, and reads only what committed.
      await Promise.resolve();
      expect(u.announced).toBe(1);
      expect((await u.audit.verify()).ok).toBe(true);
    });

    it('leaves no incident, no audit event and no outbox notice when the unit of work fails', async () => {
      await expect(uow().run(async ({ incidents, audit }) => {
        await audit.record({ actor: 'system', action: 'device.quarantine', target: `device:${DEV_A}`, detail: {} });
        await incidents.raise(intrusion({ evidence: { targets: [{ asset: 'PANEL-LP-4B' }, { asset: 'PDU-A12' }] } }));
        throw new Error('the quarantine could not be written');
      })).rejects.toThrow('the quarantine could not be written');
      expect(await log.list({})).toEqual([]);
      expect(await u.audit.list({})).toEqual([]);
      expect(await u.entries()).toEqual([]);
      expect(await count('incident_changes')).toBe(0);
      expect(await count('incident_evidence')).toBe(0);
      // The ids and the chain go on as if nothing had happened.
      expect((await log.raise(failed(DEV_A, 'x'))).id).toBeGreaterThan(0);
      expect((await u.audit.verify()).ok).toBe(true);
    });
  });

  describe('assign', () => {
    it('assigns, reassigns and unassigns, each a new revision announced in the same transaction', async () => {
      const { id } = await log.raise(intrusion());
      clock += 1000;
      expect(await log.assign(id, 'bob', 'user:mia')).toMatchObject({ assignee: 'bob', rev: 1, updatedAt: T0 + 1000 });
      await log.assign(id, 'carol', 'user:mia');
      const unassigned = await log.assign(id, null, 'user:mia');
      expect(unassigned.assignee).toBeUndefined();
      expect(unassigned.rev).toBe(3);
      const entries = await u.entries();
      expect(entries.map((e) => e.idempotencyKey)).toEqual([`incident:${id}:opened`, `incident:${id}:rev:1`, `incident:${id}:rev:2`, `incident:${id}:rev:3`]);
      expect(entries[1]).toMatchObject({ topic: 'incident.updated', payload: { incident: { id, assignee: 'bob', status: 'open' } } });
      expect((await log.history(id)).filter((c) => c.kind === 'assigned').map((c) => c.detail)).toEqual([
        { from: null, to: 'bob' }, { from: 'bob', to: 'carol' }, { from: 'carol', to: null },
      ]);
      expect((await incidentAudit()).filter((e) => e.action === 'incident.assign')).toEqual([
        { actor: 'user:mia', action: 'incident.assign', detail: { from: null, to: 'bob' } },
        { actor: 'user:mia', action: 'incident.assign', detail: { from: 'bob', to: 'carol' } },
        { actor: 'user:mia', action: 'incident.assign', detail: { from: 'carol', to: null } },
      ]);
    });

    it('changes nothing when the same person is assigned again', async () => {
      const { id } = await log.raise(intrusion({ assignee: 'bob' }));
      expect((await log.assign(id, 'bob', 'user:mia')).rev).toBe(0);
      expect((await log.history(id)).map((c) => c.kind)).toEqual(['opened']);
    });

    it('refuses an unknown incident, an empty assignee and a closed incident', async () => {
      await expect(log.assign(99, 'bob', 'user:mia')).rejects.toMatchObject({ code: 'incident_not_found' });
      const { id } = await log.raise(intrusion());
      await expect(log.assign(id, '  ', 'user:mia')).rejects.toMatchObject({ code: 'incident_invalid' });
      await log.setStatus(id, 'closed', 'user:mia', 'duplicate of #1');
      await expect(log.assign(id, 'bob', 'user:mia')).rejects.toMatchObject({ code: 'incident_closed' });
    });

    it('keeps the assignment as it was when its announcement cannot be written', async () => {
      const { id } = await log.raise(intrusion());
      u.failNextEnqueue = true;
      await expect(log.assign(id, 'bob', 'user:mia')).rejects.toThrow(/outbox/);
      const review = (await log.get(id))!;
      expect(review.incident).toMatchObject({ rev: 0 });
      expect(review.incident.assignee).toBeUndefined();
      expect(review.history.map((c) => c.kind)).toEqual(['opened']);
      expect((await incidentAudit()).map((e) => e.action)).toEqual(['incident.open']);
    });
  });

  describe('comment', () => {
    it('adds comments oldest first, in the history and the audit log, without a new revision', async () => {
      const { id } = await log.raise(intrusion());
      clock += 5000;
      const c = await log.comment(id, 'user:alice', '  Door was left ajar by the cleaning crew.  ');
      await log.comment(id, 'token:t1', 'Camera footage attached to WO-7.');
      expect(c).toEqual({ id: 1, incidentId: id, at: T0 + 5000, author: 'user:alice', text: 'Door was left ajar by the cleaning crew.' });
      expect((await log.comments(id)).map((x) => x.author)).toEqual(['user:alice', 'token:t1']);
      expect((await log.get(id))!.incident).toMatchObject({ rev: 0, updatedAt: T0 + 5000 });
      expect((await log.history(id)).map((x) => [x.kind, x.actor])).toEqual([['opened', 'system'], ['commented', 'user:alice'], ['commented', 'token:t1']]);
      expect((await incidentAudit())[1]).toEqual({ actor: 'user:alice', action: 'incident.comment', detail: { commentId: 1, text: 'Door was left ajar by the cleaning crew.' } });
      expect(await u.keys()).toEqual([`incident:${id}:opened`]);
    });

    it('refuses an empty or over-long comment and an unknown incident', async () => {
      const { id } = await log.raise(intrusion());
      await expect(log.comment(id, 'user:alice', ' ')).rejects.toMatchObject({ code: 'incident_invalid' });
      await expect(log.comment(id, 'user:alice', 'x'.repeat(4001))).rejects.toMatchObject({ code: 'incident_invalid' });
      await expect(log.comment(42, 'user:alice', 'hello')).rejects.toMatchObject({ code: 'incident_not_found' });
      expect(await log.comments(id)).toEqual([]);
    });
  });

  describe('setStatus', () => {
    it('walks open → acknowledged → resolved → closed, each step in history, audit and outbox', async () => {
      const { id } = await log.raise(intrusion());
      clock += 1000;
      expect(await log.setStatus(id, 'acknowledged', 'user:mia')).toMatchObject({ status: 'acknowledged', rev: 1 });
      clock += 1000;
      await log.setStatus(id, 'resolved', 'user:mia', 'Badge reader fixed; door re-latched');
      clock += 1000;
      expect(await log.setStatus(id, 'closed', 'user:boss')).toMatchObject({ status: 'closed', rev: 3, updatedAt: T0 + 3000 });
      expect((await log.history(id)).filter((c) => c.kind === 'status').map((c) => [c.actor, c.at, c.detail])).toEqual([
        ['user:mia', T0 + 1000, { from: 'open', to: 'acknowledged' }],
        ['user:mia', T0 + 2000, { from: 'acknowledged', to: 'resolved', note: 'Badge reader fixed; door re-latched' }],
        ['user:boss', T0 + 3000, { from: 'resolved', to: 'closed' }],
      ]);
      expect((await incidentAudit()).filter((e) => e.action === 'incident.status').map((e) => e.detail)).toEqual([
        { from: 'open', to: 'acknowledged' },
        { from: 'acknowledged', to: 'resolved', note: 'Badge reader fixed; door re-latched' },
        { from: 'resolved', to: 'closed' },
      ]);
      expect((await u.entries()).slice(1).map((e) => [e.idempotencyKey, (e.payload.incident as { status: string }).status])).toEqual([
        [`incident:${id}:rev:1`, 'acknowledged'], [`incident:${id}:rev:2`, 'resolved'], [`incident:${id}:rev:3`, 'closed'],
      ]);
      expect((await log.list({ status: 'closed' })).map((i) => i.id)).toEqual([id]);
    });

    it('reopens a resolved incident with a note, and resolves it again', async () => {
      const { id } = await log.raise(intrusion());
      await log.setStatus(id, 'resolved', 'user:mia', 'door re-latched');
      expect((await log.setStatus(id, 'open', 'user:mia', 'opened again the next night')).status).toBe('open');
      expect((await log.setStatus(id, 'resolved', 'user:mia', 'lock replaced')).rev).toBe(3);
    });

    it('needs a note to resolve, to close unresolved and to reopen', async () => {
      const { id } = await log.raise(intrusion());
      await expect(log.setStatus(id, 'resolved', 'user:mia')).rejects.toMatchObject({ code: 'incident_note_required' });
      await expect(log.setStatus(id, 'closed', 'user:mia', '   ')).rejects.toMatchObject({ code: 'incident_note_required' });
      await log.setStatus(id, 'resolved', 'user:mia', 'fixed');
      await expect(log.setStatus(id, 'open', 'user:mia')).rejects.toMatchObject({ code: 'incident_note_required' });
      expect((await log.get(id))!.incident.status).toBe('resolved');
    });

    it('refuses moves the table does not have, saying which there are', async () => {
      const { id } = await log.raise(intrusion());
      await log.setStatus(id, 'acknowledged', 'user:mia');
      await expect(log.setStatus(id, 'open', 'user:mia', 'why not')).rejects.toMatchObject({
        code: 'incident_transition_invalid', details: { incidentId: id, from: 'acknowledged', to: 'open', allowed: ['resolved', 'closed'] },
      });
      await expect(log.setStatus(id, 'acknowledged', 'user:mia')).rejects.toMatchObject({ code: 'incident_transition_invalid' });
      await log.setStatus(id, 'closed', 'user:mia', 'false alarm: door sensor test');
      await expect(log.setStatus(id, 'open', 'user:mia', 'again')).rejects.toThrow(/closed: raise a new incident/);
      await expect(log.setStatus(id, 'bogus' as IncidentStatus, 'user:mia')).rejects.toMatchObject({ code: 'incident_invalid' });
      await expect(log.setStatus(404, 'acknowledged', 'user:mia')).rejects.toMatchObject({ code: 'incident_not_found' });
    });

    it('has a transition table over every status, with closed final', () => {
      expect(Object.keys(INCIDENT_TRANSITIONS).sort()).toEqual([...INCIDENT_STATUSES].sort());
      expect(INCIDENT_TRANSITIONS.closed).toEqual([]);
      for (const moves of Object.values(INCIDENT_TRANSITIONS)) for (const m of moves) expect(INCIDENT_STATUSES).toContain(m.to);
    });
  });

  describe('get', () => {
    it('returns the ticket with its comments, history and evidence, or undefined', async () => {
      const { id } = await log.raise(intrusion());
      await log.assign(id, 'bob', 'user:mia');
      await log.comment(id, 'user:bob', 'on my way');
      const review = (await log.get(id))!;
      expect(review.incident).toMatchObject({ id, assignee: 'bob', rev: 1 });
      expect(review.comments.map((c) => c.text)).toEqual(['on my way']);
      expect(review.history.map((c) => c.kind)).toEqual(['opened', 'assigned', 'commented']);
      expect(review.evidence).toHaveLength(1);
      expect(await log.get(id + 1)).toBeUndefined();
    });
  });

  describe('evidence asked for when raised', () => {
    it('captures a DMOP incident\'s asset by default, 5 min either side, read a minute after the window', async () => {
      const i = await log.raise(intrusion());
      expect((await log.get(i.id))!.evidence).toEqual([expect.objectContaining({
        site: 'dc1', asset: 'PANEL-LP-4B', from: T0 - 5 * MINUTE, to: T0 + 5 * MINUTE, dueAt: T0 + 6 * MINUTE, state: 'pending', attempts: 0,
      })]);
    });

    it('captures the panel and its feed around the moment given, with the window asked for', async () => {
      const at = T0 - 30_000;
      const i = await log.raise(intrusion({
        evidence: { at, beforeMs: 2 * MINUTE, afterMs: 3 * MINUTE, targets: [{ asset: 'PANEL-LP-4B', role: 'panel' }, { asset: 'PDU-A12', role: 'feed', points: ['current_a', 'breaker_closed'] }] },
      }));
      const evidence = (await log.get(i.id))!.evidence;
      expect(evidence.map((e) => [e.asset, e.role, e.points, e.from, e.to])).toEqual([
        ['PANEL-LP-4B', 'panel', undefined, at - 2 * MINUTE, at + 3 * MINUTE],
        ['PDU-A12', 'feed', ['current_a', 'breaker_closed'], at - 2 * MINUTE, at + 3 * MINUTE],
      ]);
    });

    it('captures nothing for other incidents unless asked', async () => {
      const i = await log.raise(failed(DEV_A, 'nonce_replayed'));
      expect((await log.get(i.id))!.evidence).toEqual([]);
    });

    it('refuses evidence without a site and windows beyond an hour', async () => {
      await expect(log.raise({ ...failed(DEV_A, 'x'), evidence: { targets: [{ asset: 'A' }] } })).rejects.toMatchObject({ code: 'incident_invalid' });
      await expect(log.raise(intrusion({ evidence: { targets: [{ asset: 'A' }], afterMs: 2 * 60 * MINUTE } }))).rejects.toThrow(/afterMs/);
      expect(await log.list({})).toEqual([]);
    });

    it('keeps the step log and people given in detail', async () => {
      const i = await log.raise(deviation());
      expect((await log.get(i.id))!.incident.detail).toEqual(deviation().detail);
    });

    it('lists due captures longest-due first, and keeps the first outcome of a capture recorded twice', async () => {
      const a = await log.raise(intrusion());
      clock += MINUTE;
      await log.raise(intrusion());
      expect((await log.dueEvidence(T0 + 6 * MINUTE, 10)).map((e) => e.incidentId)).toEqual([a.id]);
      const due = await log.dueEvidence(T0 + 7 * MINUTE, 10);
      expect(due.map((e) => e.incidentId)).toEqual([1, 2]);
      expect(due[0]!.series).toBeUndefined();
      const series = [{ point: 'door_open', samples: [{ ts: T0, value: 1 }] }];
      await log.recordEvidence(due[0]!.id, series, T0 + 7 * MINUTE);
      // Another server captured it at the same time: the history and the audit log say so once.
      await log.recordEvidence(due[0]!.id, [], T0 + 8 * MINUTE);
      await log.recordEvidenceFailure(due[0]!.id, 'late', T0 + 8 * MINUTE, null);
      const review = (await log.get(a.id))!;
      expect(review.evidence[0]).toMatchObject({ state: 'captured', attempts: 1, capturedAt: T0 + 7 * MINUTE, series });
      expect(review.history.filter((c) => c.kind === 'evidence')).toHaveLength(1);
      expect((await incidentAudit()).filter((e) => e.action === 'incident.evidence')).toHaveLength(1);
    });
  });

  describe('securityIncidents', () => {
    it('opens the panel supervisor\'s incidents announced, assigned, with the panel\'s and the other assets\' telemetry around the moment', async () => {
      const opener: SecurityIncidents = securityIncidents(log);
      const at = T0 - 30_000;
      const id = await opener.open({
        kind: 'panel.intrusion', severity: 'critical', site: 'dc1', asset: 'PANEL-LP-4B', reason: 'door-opened-uncovered',
        summary: 'Panel PANEL-LP-4B door opened', assignee: 'mia', detail: { panel: 'PANEL-LP-4B' }, captureAssets: ['PANEL-LP-4B', 'PDU-A12'], at,
      });
      const review = (await log.get(id))!;
      expect(review.incident).toMatchObject({ kind: 'panel.intrusion', assignee: 'mia', site: 'dc1', asset: 'PANEL-LP-4B' });
      expect(review.evidence.map((e) => [e.asset, e.role, e.from, e.to])).toEqual([
        ['PANEL-LP-4B', 'panel', at - 5 * 60_000, at + 5 * 60_000], ['PDU-A12', undefined, at - 5 * 60_000, at + 5 * 60_000],
      ]);
      expect(await u.keys()).toEqual([`incident:${id}:opened`]);
      expect(await opener.open({
        kind: 'procedure.deviation', severity: 'high', site: 'dc1', asset: 'PANEL-LP-4B', reason: 'out-of-order', summary: 's',
        assignee: undefined, detail: {}, captureAssets: [], at,
      })).toBe(id + 1);
      expect((await log.get(id + 1))!.incident.assignee).toBeUndefined();
    });
  });

  // SQLite is one server's file behind one connection's write lock; replicas share PostgreSQL only.
  describe.runIf(engine === 'postgres')('two servers on one PostgreSQL', () => {
    it('serialise moves of one ticket: each sees the other\'s, revisions and announcements stay distinct', async () => {
      const other = await openIncidents(t.reopen(), { now: () => clock });
      const { id } = await log.raise(intrusion());
      const [assigned, acknowledged] = await Promise.all([log.assign(id, 'bob', 'user:mia'), other.log.setStatus(id, 'acknowledged', 'user:boss')]);
      expect([assigned.rev, acknowledged.rev].sort()).toEqual([1, 2]);
      const after = (await log.get(id))!;
      expect(after.incident).toMatchObject({ assignee: 'bob', status: 'acknowledged', rev: 2 });
      expect(after.history.map((c) => c.kind).sort()).toEqual(['assigned', 'opened', 'status']);
      expect((await u.keys()).sort()).toEqual([`incident:${id}:opened`, `incident:${id}:rev:1`, `incident:${id}:rev:2`]);
      expect((await u.audit.verify()).ok).toBe(true);
    });
  });
});

describe('an incidents database from before tickets (SQLite)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'sg-incidents-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('turns incidents stored before tickets into tickets with their opening as history', async () => {
    const file = join(dir, 'db.sqlite');
    const old = openDatabase(file);
    runMigrations(old, 'incidents', [{ version: 1, description: 'incidents', up: (db) => db.exec(INCIDENT_MIGRATIONS[0]!.sqlite as string) }]);
    old.prepare(`INSERT INTO incidents (opened_at, kind, severity, device_id, reason, summary, detail, status)
      VALUES (?, 'attestation_failed', 'high', ?, 'nonce_replayed', 's', '{}', 'acknowledged')`).run(T0, DEV_A);
    old.close();

    const database = openSqliteSqlDatabase(file);
    try {
      await migrateServerDatabase(database);
      const tickets = new SqlIncidentLog(database.db, { engine: 'sqlite', now: () => T0 + 1 });
      const review = (await tickets.get(1))!;
      expect(review.incident).toMatchObject({ id: 1, status: 'acknowledged', rev: 0, updatedAt: T0, deviceId: DEV_A });
      expect(review.history).toEqual([expect.objectContaining({ kind: 'opened', at: T0, actor: 'system', detail: { kind: 'attestation_failed', severity: 'high', reason: 'nonce_replayed' } })]);
      expect((await tickets.setStatus(1, 'resolved', 'user:alice', 'device re-imaged')).status).toBe('resolved');
      expect((await tickets.raise(failed(DEV_B, 'x'))).id).toBe(2);
    } finally {
      await database.close();
    }
  });
});
