import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../src/api/build-api.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { Role } from '../../src/auth/roles.ts';
import type { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import type { SqlIncidentLog } from '../../src/incidents/sql-incident-log.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { deviation, intrusion, MINUTE, openIncidents, T0 } from './incident-fixture.ts';

let database: SqlDatabase;
let app: FastifyInstance;
let incidents: SqlIncidentLog;
let audit: SqlAuditLog;
let clock: number;
const token: Partial<Record<Role, { value: string; id: string }>> = {};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function call(method: 'GET' | 'POST', url: string, role: Role | null, payload?: unknown): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = role ? { authorization: `Bearer ${token[role]!.value}` } : {};
  return app.inject({ method, url: `/api/v1${url}`, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
}
const json = (res: LightMyRequestResponse) => res.json<Json>();

beforeAll(async () => {
  clock = T0;
  database = openSqliteSqlDatabase(':memory:');
  await migrateServerDatabase(database);
  const tokens = await openTestApiTokens(database.sqlite!.handle);
  for (const role of ['admin', 'engineer', 'technician', 'manager', 'viewer'] as const) {
    const created = await tokens.create(`${role} token`, role);
    token[role] = { value: created.token, id: created.tokenId };
  }
  ({ log: incidents, audit } = await openIncidents(database, { now: () => clock }));
  app = buildApi({
    store: await sqliteTelemetryStore(database, { readWorkers: 0 }), registry: new SqlSiteRegistry(database.db, 'sqlite'), tokens, logger: pino({ level: 'silent' }),
    audit, incidents, now: () => clock,
  });
  await app.ready();
  await incidents.raise(intrusion({ evidence: { targets: [{ asset: 'PANEL-LP-4B', role: 'panel' }, { asset: 'PDU-A12', role: 'feed' }] } }));
  await incidents.raise(deviation({ site: 'dc2' }));
  await incidents.raise({ kind: 'attestation_failed', severity: 'high', deviceId: 'a'.repeat(64), reason: 'nonce_replayed', summary: 's', detail: {} });
  await incidents.recordEvidence(1, [{ point: 'door_open', samples: [{ ts: T0 - MINUTE, value: 0 }, { ts: T0, value: 1 }] }], T0 + 6 * MINUTE);
});
afterAll(async () => {
  await app.close();
  await database.close();
});

describe('GET /incidents', () => {
  it('answers every role, newest first', async () => {
    for (const role of ['viewer', 'technician', 'manager'] as const) {
      const res = await call('GET', '/incidents', role);
      expect(res.statusCode).toBe(200);
      expect(json(res).incidents.map((i: Json) => i.id)).toEqual([3, 2, 1]);
    }
    expect((await call('GET', '/incidents', null)).statusCode).toBe(401);
  });

  it('filters by kind, status, site and device', async () => {
    expect(json(await call('GET', '/incidents?kind=panel.intrusion', 'viewer')).incidents.map((i: Json) => i.id)).toEqual([1]);
    expect(json(await call('GET', '/incidents?site=dc2', 'viewer')).incidents.map((i: Json) => i.kind)).toEqual(['procedure.deviation']);
    expect(json(await call('GET', `/incidents?deviceId=${'a'.repeat(64)}`, 'viewer')).incidents).toHaveLength(1);
    expect(json(await call('GET', '/incidents?status=resolved', 'viewer')).incidents).toEqual([]);
    expect((await call('GET', '/incidents?status=bogus', 'viewer')).statusCode).toBe(400);
  });
});

describe('GET /incidents/:id', () => {
  it('returns the incident with its comments, history and evidence', async () => {
    const res = json(await call('GET', '/incidents/1', 'viewer'));
    expect(res.incident).toMatchObject({ id: 1, kind: 'panel.intrusion', site: 'dc1', asset: 'PANEL-LP-4B', status: 'open', rev: 0 });
    expect(res.incident.detail.workOrdersNearby[0]).toMatchObject({ workOrderId: 7, assignees: ['alice'] });
    expect(res.history.map((c: Json) => c.kind)).toEqual(['opened', 'evidence']);
    expect(res.evidence.map((e: Json) => [e.asset, e.role, e.state])).toEqual([['PANEL-LP-4B', 'panel', 'captured'], ['PDU-A12', 'feed', 'pending']]);
    expect(res.evidence[0].series).toEqual([{ point: 'door_open', samples: [{ ts: T0 - MINUTE, value: 0 }, { ts: T0, value: 1 }] }]);
    expect(res.comments).toEqual([]);
  });

  it('answers 404 incident_not_found for an unknown incident and 400 for a malformed id', async () => {
    const res = await call('GET', '/incidents/99', 'viewer');
    expect(res.statusCode).toBe(404);
    expect(json(res).error.code).toBe('incident_not_found');
    const bad = await call('GET', '/incidents/x', 'viewer');
    expect(bad.statusCode).toBe(400);
    expect(json(bad).error.code).toBe('bad_request');
  });
});

describe('POST /incidents/:id/assign', () => {
  it('lets admin, engineer and manager assign, as themselves', async () => {
    for (const role of ['viewer', 'technician'] as const) {
      const res = await call('POST', '/incidents/1/assign', role, { assignee: 'bob' });
      expect(res.statusCode).toBe(403);
      expect(json(res).error.code).toBe('forbidden');
    }
    const res = await call('POST', '/incidents/1/assign', 'manager', { assignee: 'bob' });
    expect(res.statusCode).toBe(200);
    expect(json(res).incident).toMatchObject({ id: 1, assignee: 'bob', rev: 1 });
    expect((await incidents.history(1)).at(-1)).toMatchObject({ kind: 'assigned', actor: `token:${token.manager!.id}` });
    expect(await audit.list({ target: 'incident:1', actionPrefix: 'incident.assign' })).toEqual([
      expect.objectContaining({ actor: `token:${token.manager!.id}`, detail: { from: null, to: 'bob' } }),
    ]);
    expect(json(await call('GET', '/incidents?assignee=bob', 'viewer')).incidents.map((i: Json) => i.id)).toEqual([1]);
  });

  it('unassigns with null (or an empty field) and refuses a blank assignee or none at all', async () => {
    expect(json(await call('POST', '/incidents/2/assign', 'engineer', { assignee: 'carol' })).incident.assignee).toBe('carol');
    const unassigned = json(await call('POST', '/incidents/2/assign', 'engineer', { assignee: null })).incident;
    expect(unassigned.assignee).toBeUndefined();
    await call('POST', '/incidents/2/assign', 'engineer', { assignee: 'carol' });
    expect(json(await call('POST', '/incidents/2/assign', 'engineer', { assignee: '' })).incident.assignee).toBeUndefined();
    const blank = await call('POST', '/incidents/2/assign', 'engineer', { assignee: '   ' });
    expect(blank.statusCode).toBe(400);
    expect(json(blank).error.code).toBe('incident_invalid');
    expect((await call('POST', '/incidents/2/assign', 'engineer', {})).statusCode).toBe(400);
  });
});

describe('POST /incidents/:id/comments', () => {
  it('lets technicians comment too, but not viewers', async () => {
    expect((await call('POST', '/incidents/1/comments', 'viewer', { text: 'hi' })).statusCode).toBe(403);
    clock += 1000;
    const res = await call('POST', '/incidents/1/comments', 'technician', { text: 'I was on site: the latch is worn.' });
    expect(res.statusCode).toBe(201);
    expect(json(res).comment).toEqual({ id: 1, incidentId: 1, at: clock, author: `token:${token.technician!.id}`, text: 'I was on site: the latch is worn.' });
    expect(json(await call('GET', '/incidents/1', 'viewer')).comments.map((c: Json) => c.text)).toEqual(['I was on site: the latch is worn.']);
  });

  it('refuses an empty comment and an unknown incident with coded errors', async () => {
    const blank = await call('POST', '/incidents/1/comments', 'admin', { text: '   ' });
    expect(blank.statusCode).toBe(400);
    expect(json(blank).error.code).toBe('incident_invalid');
    const missing = await call('POST', '/incidents/99/comments', 'admin', { text: 'hello' });
    expect(missing.statusCode).toBe(404);
  });
});

describe('POST /incidents/:id/status', () => {
  it('moves the status with the caller as actor and says why a move is refused', async () => {
    expect((await call('POST', '/incidents/3/status', 'technician', { status: 'acknowledged' })).statusCode).toBe(403);
    const ack = await call('POST', '/incidents/3/status', 'engineer', { status: 'acknowledged' });
    expect(ack.statusCode).toBe(200);
    expect(json(ack).incident).toMatchObject({ status: 'acknowledged', rev: 1 });

    const noNote = await call('POST', '/incidents/3/status', 'engineer', { status: 'resolved' });
    expect(noNote.statusCode).toBe(400);
    expect(json(noNote).error).toMatchObject({ code: 'incident_note_required', message: expect.stringMatching(/needs a note/) });

    const back = await call('POST', '/incidents/3/status', 'engineer', { status: 'open', note: 'not ours' });
    expect(back.statusCode).toBe(409);
    expect(json(back).error.code).toBe('incident_transition_invalid');

    const resolved = await call('POST', '/incidents/3/status', 'admin', { status: 'resolved', note: 'device re-imaged from a signed release' });
    expect(json(resolved).incident.status).toBe('resolved');
    expect((await incidents.history(3)).at(-1)).toMatchObject({
      actor: `token:${token.admin!.id}`, kind: 'status', detail: { from: 'acknowledged', to: 'resolved', note: 'device re-imaged from a signed release' },
    });
    expect(json(await call('GET', '/incidents?status=resolved', 'viewer')).incidents.map((i: Json) => i.id)).toEqual([3]);
  });

  it('refuses an unknown status by its schema', async () => {
    const res = await call('POST', '/incidents/3/status', 'admin', { status: 'done' });
    expect(res.statusCode).toBe(400);
    expect(json(res).error.code).toBe('bad_request');
  });
});

describe('OpenAPI', () => {
  it('documents the incident routes under the incidents tag', async () => {
    const doc = json(await call('GET', '/openapi.json', 'viewer'));
    const routes: [string, string][] = [
      ['/api/v1/incidents', 'get'], ['/api/v1/incidents/{id}', 'get'], ['/api/v1/incidents/{id}/assign', 'post'],
      ['/api/v1/incidents/{id}/comments', 'post'], ['/api/v1/incidents/{id}/status', 'post'],
    ];
    for (const [path, method] of routes) expect(doc.paths[path][method].tags).toEqual(['incidents']);
    expect(doc.paths['/api/v1/incidents/{id}/status'].post.requestBody.content['application/json'].schema.properties.status.enum)
      .toEqual(['open', 'acknowledged', 'resolved', 'closed']);
  });
});
