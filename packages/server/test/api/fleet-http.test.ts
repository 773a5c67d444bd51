/**
 * The fleet routes in front of the real FleetService (fixture from test/fleet), with the real
 * SQLite audit and incident logs: what an operator and a guardian see over HTTP.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ATTESTATION_CHALLENGE_PATH, ATTESTATION_EVIDENCE_PATH, encodeEvidence } from '@shellguard/protocol';
import type { SqliteDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import type { SqlIncidentLog } from '../../src/incidents/sql-incident-log.ts';
import { openTestAuditLog } from '../audit/test-audit-log.ts';
import { openTestIncidentLog } from '../incidents/test-incident-log.ts';
import { buildApi } from '../../src/api/build-api.ts';
import { fleetFixture, RUNTIME, BUNDLE_1_1, digest, TestGuardian, type FleetFixture } from '../fleet/fleet-fixture.ts';

let db: SqliteDatabase;
let fx: FleetFixture;
let app: FastifyInstance;
let audit: SqlAuditLog;
let incidents: SqlIncidentLog;
let engineer: { token: string; tokenId: string };
let viewer: string;
const guardian = new TestGuardian('gw-1');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
const asJson = (res: LightMyRequestResponse) => res.json<Json>();

function post(url: string, payload: object, token?: string) {
  return app.inject({ method: 'POST', url, payload, headers: token ? { authorization: `Bearer ${token}` } : {} });
}
function get(url: string, token: string) {
  return app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
}
async function nonceFor(g: TestGuardian): Promise<string> {
  const res = await post(ATTESTATION_CHALLENGE_PATH, g.challengeRequest(fx.clock.now));
  expect(res.statusCode).toBe(200);
  return asJson(res).nonce as string;
}

beforeAll(async () => {
  // The logs live in the fixture's database: the fleet's writes and their events share transactions.
  fx = await fleetFixture({}, {
    logs: async (database, clock) => {
      audit = await openTestAuditLog(database, { now: () => clock.now });
      incidents = await openTestIncidentLog(database, { now: () => clock.now, audit });
      return { audit, incidents };
    },
  });
  db = fx.database.sqlite!.handle;
  const tokens = await openTestApiTokens(db);
  engineer = await tokens.create('field engineer', 'engineer');
  viewer = (await tokens.create('dashboard', 'viewer')).token;
  app = buildApi({
    store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(fx.database.db, 'sqlite'), tokens, logger: pino({ level: 'silent' }),
    fleet: fx.fleet, audit, incidents, now: () => fx.clock.now,
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await fx?.close(); // closes `db`
});

describe('fleet over HTTP with the real FleetService', () => {
  it('lets an engineer define a group, register releases and claim a device, each audited as token:<id>', async () => {
    expect((await post('/api/v1/groups', { id: 'ahu-gw', site: 'dc1', minSecureVersion: '1.0.0' }, engineer.token)).statusCode).toBe(201);
    const release = await post('/api/v1/groups/ahu-gw/releases', {
      swname: 'shellguard-guardian', swversion: '1.1.0',
      components: [
        { component: 'runtime', digest: RUNTIME }, { component: 'guardian-bundle', digest: BUNDLE_1_1 },
        { component: 'profiles', digest: digest('profiles v1') }, { component: 'config', digest: guardian.configDigest },
      ],
    }, engineer.token);
    expect(release.statusCode).toBe(201);
    expect(asJson(release).release).toMatchObject({ group: 'ahu-gw', swversion: '1.1.0', registeredBy: `token:${engineer.tokenId}` });
    const claim = await post('/api/v1/claims', { deviceId: guardian.deviceId, site: 'dc1', group: 'ahu-gw' }, engineer.token);
    expect(claim.statusCode).toBe(201);
    expect(asJson(claim).claim).toMatchObject({ deviceId: guardian.deviceId, state: 'claimed' });

    const events = asJson(await get('/api/v1/audit', viewer)).events as Json[];
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(new Set(events.map((e) => e.actor))).toEqual(new Set([`token:${engineer.tokenId}`]));
    expect(asJson(await get('/api/v1/audit/verify', viewer))).toMatchObject({ ok: true, events: events.length, problems: [] });
  });

  it('refuses a second claim of the same device with 409 device_already_claimed', async () => {
    const res = await post('/api/v1/claims', { deviceId: guardian.deviceId, site: 'dc1', group: 'ahu-gw' }, engineer.token);
    expect(res.statusCode).toBe(409);
    expect(asJson(res).error.code).toBe('device_already_claimed');
  });

  it('enrols a guardian without a token: challenge, evidence, operational certificate', async () => {
    const nonce = await nonceFor(guardian);
    const res = await post(ATTESTATION_EVIDENCE_PATH, { evidence: guardian.evidence(nonce, fx.clock.now) });
    expect(res.statusCode).toBe(200);
    const body = asJson(res);
    expect(body.certificatePem).toContain('BEGIN CERTIFICATE');
    expect(body.notAfter).toBeGreaterThan(fx.clock.now);
    const view = asJson(await get('/api/v1/fleet', viewer)).devices as Json[];
    expect(view).toEqual([expect.objectContaining({
      deviceId: guardian.deviceId, state: 'claimed', lastAttestation: expect.objectContaining({ result: 'pass' }), swversion: '1.1.0',
    })]);
  });

  it('answers a replayed nonce with 403 nonce_replayed, and evidence signed by another key with 403', async () => {
    const nonce = await nonceFor(guardian);
    const evidence = guardian.evidence(nonce, fx.clock.now);
    expect((await post(ATTESTATION_EVIDENCE_PATH, { evidence })).statusCode).toBe(200);
    const replay = await post(ATTESTATION_EVIDENCE_PATH, { evidence });
    expect(replay.statusCode).toBe(403);
    expect(asJson(replay).error.code).toBe('nonce_replayed');

    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const forged = encodeEvidence(guardian.claims(await nonceFor(guardian), fx.clock.now), other.publicKey,
      (data) => sign('sha256', data, other.privateKey));
    const res = await post(ATTESTATION_EVIDENCE_PATH, { evidence: forged });
    expect(res.statusCode).toBe(403);
    expect(asJson(res).error.code).toBe('key_mismatch');
  });

  it('answers the challenge over a real loopback socket without a token, and nothing else', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const challenge = await fetch(`${base}${ATTESTATION_CHALLENGE_PATH}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(guardian.challengeRequest(fx.clock.now)),
    });
    expect(challenge.status).toBe(200);
    expect(await challenge.json()).toMatchObject({ nonce: expect.any(String), expiresAt: expect.any(Number) });
    expect((await fetch(`${base}/api/v1/fleet`)).status).toBe(401);
    const big = await fetch(`${base}${ATTESTATION_EVIDENCE_PATH}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ evidence: 'x'.repeat(20_000) }),
    });
    expect(big.status).toBe(413);
  });

  it('answers a proven challenge for an unclaimed device with 200, and its evidence with 403 device_unclaimed', async () => {
    const stranger = new TestGuardian('stranger');
    const res = await post(ATTESTATION_CHALLENGE_PATH, stranger.challengeRequest(fx.clock.now));
    expect(res.statusCode).toBe(200);
    const evidence = await post(ATTESTATION_EVIDENCE_PATH, { evidence: stranger.evidence(asJson(res).nonce as string, fx.clock.now) });
    expect(evidence.statusCode).toBe(403);
    expect(asJson(evidence).error.code).toBe('device_unclaimed');
  });

  it('refuses a challenge carrying only a device id (400), or one signed by another key (403 challenge_proof_invalid)', async () => {
    expect((await post(ATTESTATION_CHALLENGE_PATH, { deviceId: guardian.deviceId })).statusCode).toBe(400);
    const forged = { ...new TestGuardian('mallory').challengeRequest(fx.clock.now), deviceId: guardian.deviceId };
    const res = await post(ATTESTATION_CHALLENGE_PATH, forged);
    expect(res.statusCode).toBe(403);
    expect(asJson(res).error.code).toBe('challenge_proof_invalid');
  });

  it('lets a viewer read but not revoke; an engineer revokes, and the device is refused from then on', async () => {
    const url = `/api/v1/fleet/${guardian.deviceId}/revoke`;
    expect((await post(url, { reason: 'stolen' }, viewer)).statusCode).toBe(403);
    expect(fx.revoked).toEqual([]);
    const res = await post(url, { reason: 'stolen' }, engineer.token);
    expect(res.statusCode).toBe(200);
    expect(asJson(res).claim).toMatchObject({ state: 'revoked' });
    expect(fx.revoked).toEqual([guardian.deviceId]);
    // The challenge answers as for any device; the evidence is refused.
    const evidence = await post(ATTESTATION_EVIDENCE_PATH, { evidence: guardian.evidence(await nonceFor(guardian), fx.clock.now) });
    expect(evidence.statusCode).toBe(403);
    expect(asJson(evidence).error.code).toBe('device_revoked');
    const crl = await app.inject({ method: 'GET', url: '/api/v1/pki/crl' });
    expect(crl.statusCode).toBe(200);
    expect(crl.body).toMatch(/^CRL [0-9a-f]/);
    expect(asJson(await get('/api/v1/audit/verify', viewer)).ok).toBe(true);
  });
});
