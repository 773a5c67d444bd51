/**
 * The deployment routes over real HTTPS, in front of the rollout engine on fake time (the
 * recording ports of test/updates/rollout-harness.ts) with the SQLite audit log.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import { buildApi } from '../../src/api/build-api.ts';
import { harness, T0, type Harness } from '../updates/rollout-harness.ts';
import { httpsRequest, selfSignedCertificate } from './https-client.ts';

let h: Harness;
let app: FastifyInstance;
let port: number;
let ca: string;
let engineer: { token: string; tokenId: string };
let viewer: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function call(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await httpsRequest(port, ca, `/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: JSON.parse(res.body) as Json };
}

beforeAll(async () => {
  h = await harness(20);
  const tokens = await openTestApiTokens(h.database);
  engineer = await tokens.create('release engineer', 'engineer');
  viewer = (await tokens.create('wall screen', 'viewer')).token;
  const cert = selfSignedCertificate();
  ca = cert.certPem;
  app = buildApi({
    store: await sqliteTelemetryStore(h.db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(h.db).db, 'sqlite'), tokens, logger: pino({ level: 'silent' }),
    deployments: h.service, now: () => h.clock.now, tls: cert,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await h?.close();
});

describe('deployments over HTTPS', () => {
  let id: string;

  it('lets an engineer deploy a release and refuses a viewer', async () => {
    const body = { product: 'guardian', stream: 'application', version: '1.1.0', group: 'ahu-gw', policy: { waveSoakSeconds: 600 } };
    expect((await call('POST', '/deployments', viewer, body)).status).toBe(403);
    const res = await call('POST', '/deployments', engineer.token, body);
    expect(res.status).toBe(201);
    id = res.json.deployment.id as string;
    expect(res.json.deployment).toMatchObject({ state: 'running', currentWave: 1, waveCount: 4, createdBy: `token:${engineer.tokenId}`, policy: { waves: [1, 10, 50, 100], waveSoakSeconds: 600 } });
    expect(res.json.progress).toMatchObject({ devices: 20, healthy: 0, percentHealthy: 0, waves: [{ wave: 1, devices: 1, started: true }, { wave: 2 }, { wave: 3 }, { wave: 4, devices: 10, started: false }] });
  });

  it('answers what is wrong, with a code, when a deployment cannot be made', async () => {
    const base = { product: 'guardian', stream: 'application', version: '1.1.0', group: 'ahu-gw' };
    const conflict = await call('POST', '/deployments', engineer.token, base);
    expect(conflict).toMatchObject({ status: 409, json: { error: { code: 'deployment_conflict' } } });
    expect(conflict.json.error.message).toContain('abort it or let it complete first');
    expect(await call('POST', '/deployments', engineer.token, { ...base, stream: 'platform', version: '7.0.0' })).toMatchObject({ status: 404, json: { error: { code: 'release_not_found' } } });
    expect(await call('POST', '/deployments', engineer.token, { ...base, stream: 'platform', version: '20.20.0', policy: { waves: [50, 90] } }))
      .toMatchObject({ status: 400, json: { error: { code: 'deployment_invalid', message: 'the last wave must be 100 (the whole group)' } } });
    expect((await call('POST', '/deployments', engineer.token, { ...base, policy: { surprise: true } })).status).toBe(400);
  });

  it('shows the list, one deployment with its progress, and its devices to a viewer', async () => {
    const list = await call('GET', '/deployments?group=ahu-gw&state=running', viewer);
    expect(list.status).toBe(200);
    expect(list.json.deployments.map((d: Json) => d.id)).toEqual([id]);
    expect((await call('GET', `/deployments/${id}`, viewer)).json.progress.states).toMatchObject({ pending: 20, healthy: 0 });
    const devices = await call('GET', `/deployments/${id}/devices`, viewer);
    expect(devices.json.devices).toHaveLength(20);
    expect(devices.json.devices[0]).toMatchObject({ wave: 1, state: 'pending', installNow: true, history: [{ state: 'pending' }] });
    expect(await call('GET', '/deployments/dep-nope', viewer)).toMatchObject({ status: 404, json: { error: { code: 'deployment_not_found' } } });
  });

  it('defers a device not yet instructed, with an ISO time, and refuses one told to install', async () => {
    const devices = (await call('GET', `/deployments/${id}/devices`, viewer)).json.devices as Json[];
    const later = devices.find((d) => d.wave === 4)!;
    const first = devices.find((d) => d.wave === 1)!;
    const until = new Date(T0 + 86_400_000).toISOString();
    expect((await call('POST', `/deployments/${id}/devices/${later.deviceId}/defer`, viewer, { until, reason: 'change freeze' })).status).toBe(403);
    const res = await call('POST', `/deployments/${id}/devices/${later.deviceId}/defer`, engineer.token, { until, reason: 'change freeze' });
    expect(res).toMatchObject({ status: 200, json: { device: { state: 'deferred', deferredUntil: T0 + 86_400_000 } } });
    expect(await call('POST', `/deployments/${id}/devices/${first.deviceId}/defer`, engineer.token, { until, reason: 'change freeze' }))
      .toMatchObject({ status: 409, json: { error: { code: 'deployment_state' } } });
  });

  it('pauses, resumes and aborts, each audited as the caller', async () => {
    expect((await call('POST', `/deployments/${id}/pause`, viewer, {})).status).toBe(403);
    expect(await call('POST', `/deployments/${id}/pause`, engineer.token, { reason: 'vendor advisory' })).toMatchObject({ status: 200, json: { deployment: { state: 'paused' } } });
    expect(await call('POST', `/deployments/${id}/pause`, engineer.token, {})).toMatchObject({ status: 409, json: { error: { code: 'deployment_state' } } });
    expect(await call('POST', `/deployments/${id}/resume`, engineer.token, {})).toMatchObject({ status: 200, json: { deployment: { state: 'running' } } });
    expect(await call('POST', `/deployments/${id}/start-installs`, engineer.token)).toMatchObject({ status: 409, json: { error: { code: 'deployment_state' } } });
    expect(await call('POST', `/deployments/${id}/abort`, engineer.token, { reason: 'wrong release' })).toMatchObject({ status: 200, json: { deployment: { state: 'aborted' } } });
    expect(h.audits.filter((a) => a.action.startsWith('deployment.')).map((a) => [a.action, a.actor])).toEqual([
      ['deployment.create', `token:${engineer.tokenId}`], ['deployment.device.defer', `token:${engineer.tokenId}`],
      ['deployment.pause', `token:${engineer.tokenId}`], ['deployment.resume', `token:${engineer.tokenId}`], ['deployment.abort', `token:${engineer.tokenId}`],
    ]);
  });

  it("reports the group's versions against its target", async () => {
    const res = await call('GET', '/groups/ahu-gw/version-report?stream=application', viewer);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ group: 'ahu-gw', stream: 'application' });
    expect(res.json.target).toBeUndefined(); // the only deployment was aborted
    expect(res.json.devices).toHaveLength(20);
    expect((await call('GET', '/groups/ahu-gw/version-report?stream=firmware', viewer)).status).toBe(400);
  });
});
