import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/audit/sqlite-audit-log.ts';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { runMigrations } from '../../src/db/migrations.ts';
import { SqliteIncidentLog } from '../../src/incidents/sqlite-incident-log.ts';
import { INCIDENT_MIGRATIONS } from '../../src/incidents/sqlite-incident-schema.ts';
import type { IncidentInput } from '../../src/incidents/incident-log.ts';
import { deviation, intrusion, MemoryAuditLog, MemoryOutbox, MINUTE } from './incident-fixture.ts';

const T0 = 1_750_000_000_000;
const DEV_A = 'a'.repeat(64);
const DEV_B = 'b'.repeat(64);
let db: SqliteDatabase;
let log: SqliteIncidentLog;
let audit: MemoryAuditLog;
let outbox: MemoryOutbox;
let clock: number;

const failed = (deviceId: string, reason: string): IncidentInput => ({
  kind: 'attestation_failed', severity: 'high', deviceId, reason, summary: `attestation refused: ${reason}`,
  detail: { swversion: '1.2.3', measurements: [{ component: 'runtime', digest: 'ab'.repeat(32) }] },
});

beforeEach(() => {
  clock = T0;
  db = openDatabase(':memory:');
  audit = new MemoryAuditLog(() => clock);
  outbox = new MemoryOutbox();
  log = new SqliteIncidentLog(db, { now: () => clock, audit, outbox });
});
afterEach(() => db.close());

describe('SqliteIncidentLog', () => {
  it('raises an open incident with an id, the injected time and its detail', () => {
    const incident = log.raise(failed(DEV_A, 'measurements_mismatch'));
    expect(incident).toEqual({ id: 1, openedAt: T0, status: 'open', ...failed(DEV_A, 'measurements_mismatch') });
    expect(log.list({})).toEqual([incident]);
  });

  it('keeps incidents without a device', () => {
    const incident = log.raise({ kind: 'ca_rotation_failed', severity: 'critical', reason: 'pki_io', summary: 's', detail: {} });
    expect(incident.deviceId).toBeUndefined();
    expect(log.list({})[0]).toEqual(incident);
  });

  it('lists newest first, filtered by device and status, bounded by limit', () => {
    log.raise(failed(DEV_A, 'nonce_replayed'));
    clock += 1;
    log.raise(failed(DEV_B, 'version_below_minimum'));
    clock += 1;
    log.raise(failed(DEV_A, 'measurements_mismatch'));
    expect(log.list({}).map((i) => i.reason)).toEqual(['measurements_mismatch', 'version_below_minimum', 'nonce_replayed']);
    expect(log.list({ deviceId: DEV_A }).map((i) => i.id)).toEqual([3, 1]);
    expect(log.list({ limit: 1 })).toHaveLength(1);
    expect(log.list({ status: 'open' })).toHaveLength(3);
    expect(log.list({ status: 'closed' })).toEqual([]);
  });

  it('refuses an unknown severity with a coded error', () => {
    expect(() => log.raise({ ...failed(DEV_A, 'x'), severity: 'urgent' as 'high' })).toThrow(expect.objectContaining({
      code: 'incident_invalid', message: expect.stringMatching(/severity/),
    }));
  });

  it('keeps the site, asset and assignee of a DMOP incident and filters by them and by kind', () => {
    const a = log.raise(intrusion({ assignee: 'bob' }));
    log.raise(deviation({ site: 'dc2', asset: 'PANEL-1' }));
    log.raise(failed(DEV_A, 'nonce_replayed'));
    expect(a).toMatchObject({ site: 'dc1', asset: 'PANEL-LP-4B', assignee: 'bob', kind: 'panel.intrusion' });
    expect(log.list({ site: 'dc1' }).map((i) => i.id)).toEqual([1]);
    expect(log.list({ kind: 'procedure.deviation' }).map((i) => i.site)).toEqual(['dc2']);
    expect(log.list({ assignee: 'bob' }).map((i) => i.id)).toEqual([1]);
    expect(log.list({ asset: 'PANEL-1' }).map((i) => i.id)).toEqual([2]);
  });

  it('records the opening in the history and the audit log', () => {
    const i = log.raise(intrusion());
    expect(log.history(i.id)).toEqual([expect.objectContaining({ seq: 1, at: T0, actor: 'system', kind: 'opened' })]);
    expect(audit.events).toEqual([expect.objectContaining({
      actor: 'system', action: 'incident.open', target: `incident:${i.id}`,
      detail: expect.objectContaining({ kind: 'panel.intrusion', severity: 'critical', site: 'dc1', asset: 'PANEL-LP-4B' }),
    })]);
  });
});

describe('announcing new incidents', () => {
  it('announces high and critical incidents by default, with the incident summary and no detail', () => {
    const i = log.raise(intrusion());
    log.raise({ ...failed(DEV_A, 'evidence_malformed'), severity: 'low' });
    expect(outbox.entries).toEqual([{
      topic: 'incident.opened', idempotencyKey: `incident:${i.id}:opened`,
      payload: { incident: { id: i.id, kind: 'panel.intrusion', severity: 'critical', status: 'open', summary: i.summary, openedAt: T0, site: 'dc1', asset: 'PANEL-LP-4B' } },
    }]);
  });

  it('follows notify when the raiser says', () => {
    log.raise(deviation({ notify: true, severity: 'low' }));
    log.raise({ ...failed(DEV_A, 'nonce_replayed'), notify: false });
    expect(outbox.keys()).toEqual(['incident:1:opened']);
  });

  it('adds the dashboard address when it knows it', () => {
    const withUrl = new SqliteIncidentLog(db, { now: () => clock, outbox, incidentUrl: (id) => `https://sg.example/incidents/${id}` });
    withUrl.raise(intrusion());
    expect(outbox.entries[0]!.payload).toMatchObject({ incident: { url: 'https://sg.example/incidents/1' } });
  });

  it('raises nothing when the outbox cannot take the announcement: incident, history and audit roll back together', () => {
    const chain = new SqliteAuditLog(db, { now: () => clock });
    const tickets = new SqliteIncidentLog(db, { now: () => clock, audit: chain, outbox });
    outbox.failNext = true;
    expect(() => tickets.raise(intrusion())).toThrow(/outbox/);
    expect(tickets.list({})).toEqual([]);
    expect(chain.list({ actionPrefix: 'incident.' })).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM incident_changes').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM incident_evidence').get()).toEqual({ n: 0 });
  });
});

describe('evidence asked for when raised', () => {
  it('captures a DMOP incident\'s asset by default, 5 min either side, read a minute after the window', () => {
    const i = log.raise(intrusion());
    expect(log.get(i.id)!.evidence).toEqual([expect.objectContaining({
      site: 'dc1', asset: 'PANEL-LP-4B', from: T0 - 5 * MINUTE, to: T0 + 5 * MINUTE, dueAt: T0 + 6 * MINUTE, state: 'pending', attempts: 0,
    })]);
  });

  it('captures the panel and its feed around the moment given, with the window asked for', () => {
    const at = T0 - 30_000;
    const i = log.raise(intrusion({
      evidence: { at, beforeMs: 2 * MINUTE, afterMs: 3 * MINUTE, targets: [{ asset: 'PANEL-LP-4B', role: 'panel' }, { asset: 'PDU-A12', role: 'feed', points: ['current_a', 'breaker_closed'] }] },
    }));
    const evidence = log.get(i.id)!.evidence;
    expect(evidence.map((e) => [e.asset, e.role, e.points, e.from, e.to])).toEqual([
      ['PANEL-LP-4B', 'panel', undefined, at - 2 * MINUTE, at + 3 * MINUTE],
      ['PDU-A12', 'feed', ['current_a', 'breaker_closed'], at - 2 * MINUTE, at + 3 * MINUTE],
    ]);
  });

  it('captures nothing for other incidents unless asked', () => {
    const i = log.raise(failed(DEV_A, 'nonce_replayed'));
    expect(log.get(i.id)!.evidence).toEqual([]);
  });

  it('refuses evidence without a site and windows beyond an hour', () => {
    expect(() => log.raise({ ...failed(DEV_A, 'x'), evidence: { targets: [{ asset: 'A' }] } })).toThrow(expect.objectContaining({ code: 'incident_invalid' }));
    expect(() => log.raise(intrusion({ evidence: { targets: [{ asset: 'A' }], afterMs: 2 * 60 * MINUTE } }))).toThrow(/afterMs/);
    expect(log.list({})).toEqual([]);
  });

  it('keeps the step log and people given in detail', () => {
    const i = log.raise(deviation());
    expect(log.get(i.id)!.incident.detail).toEqual(deviation().detail);
  });
});

describe('migration', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'sg-incidents-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('turns incidents stored before tickets into tickets with their opening as history', () => {
    const file = join(dir, 'db.sqlite');
    const old = openDatabase(file);
    runMigrations(old, 'incidents', INCIDENT_MIGRATIONS.slice(0, 1));
    old.prepare(`INSERT INTO incidents (opened_at, kind, severity, device_id, reason, summary, detail, status)
      VALUES (?, 'attestation_failed', 'high', ?, 'nonce_replayed', 's', '{}', 'acknowledged')`).run(T0, DEV_A);
    old.close();

    const reopened = openDatabase(file);
    try {
      const tickets = new SqliteIncidentLog(reopened, { now: () => T0 + 1 });
      const review = tickets.get(1)!;
      expect(review.incident).toMatchObject({ id: 1, status: 'acknowledged', rev: 0, updatedAt: T0, deviceId: DEV_A });
      expect(review.history).toEqual([expect.objectContaining({ kind: 'opened', at: T0, actor: 'system' })]);
      expect(tickets.setStatus(1, 'resolved', 'user:alice', 'device re-imaged').status).toBe('resolved');
    } finally {
      reopened.close();
    }
  });
});
