import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ATTESTATION_CHALLENGE_PATH, ATTESTATION_EVIDENCE_PATH, AttestationRefusals } from '@shellguard/protocol';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { Role } from '../../src/auth/roles.ts';
import type { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import type { SqlIncidentLog } from '../../src/incidents/sql-incident-log.ts';
import { openTestAuditLog } from '../audit/test-audit-log.ts';
import { openTestIncidentLog } from '../incidents/test-incident-log.ts';
import { buildApi } from '../../src/api/build-api.ts';
import { FleetError, type FleetErrorCode } from '../../src/fleet/fleet-error.ts';
import { CHALLENGE_REQUEST, DEVICE, FakeFleet, OTHER_DEVICE, refusal } from './fleet-api-fake.ts';

const T0 = 1_750_000_000_000;
let db: SqliteDatabase;
let app: FastifyInstance;
let fleet: FakeFleet;
let audit: SqlAuditLog;
let incidents: SqlIncidentLog;
let clock: number;
const token: Partial<Record<Role, { value: string; id: string }>> = {};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function call(method: 'GET' | 'POST', url: string, role: Role | null, payload?: unknown): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = role ? { authorization: `Bearer ${token[role]!.value}` } : {};
  return app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
}
const json = (res: LightMyRequestResponse) => res.json<Json>();

const claim = { deviceId: DEVICE, site: 'site-a', group: 'ahu-gw' };
const release = { swname: 'shellguard-guardian', swversion: '1.3.0', components: [{ component: 'runtime', digest: 'ab'.repeat(32) }] };
const WRITES: Array<[string, unknown]> = [
  ['/api/v1/groups', { id: 'ahu-gw', site: 'site-a', minSecureVersion: '1.2.0' }],
  ['/api/v1/groups/ahu-gw/releases', release],
  ['/api/v1/claims', claim],
  ['/api/v1/claims/bulk', { claims: [claim] }],
  [`/api/v1/fleet/${DEVICE}/revoke`, { reason: 'stolen' }],
  [`/api/v1/fleet/${DEVICE}/release`, { reason: 'checked on site' }],
];
const READS = ['/api/v1/fleet', '/api/v1/fleet/version-report', `/api/v1/fleet/${DEVICE}/reports`, '/api/v1/incidents',
  '/api/v1/audit', '/api/v1/audit/verify'];

beforeAll(async () => {
  clock = T0;
  db = openDatabase(':memory:');
  const tokens = await openTestApiTokens(db);
  for (const role of ['admin', 'engineer', 'technician', 'manager', 'viewer'] as const) {
    const created = await tokens.create(`${role} token`, role);
    token[role] = { value: created.token, id: created.tokenId };
  }
  fleet = new FakeFleet();
  audit = await openTestAuditLog(db, { now: () => clock });
  incidents = await openTestIncidentLog(db, { now: () => clock });
  app = buildApi({
    store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, logger: pino({ level: 'silent' }),
    fleet, audit, incidents, now: () => clock, attestationRateLimit: { burst: 1000, perSecond: 1000 },
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  db.close();
});
beforeEach(() => {
  fleet.calls.length = 0;
  fleet.failWith = undefined;
});

describe('fleet routes: authentication and roles', () => {
  it.each([...READS.map((u) => ['GET', u]), ...WRITES.map(([u]) => ['POST', u])])(
    'refuses %s %s without a token (401)', async (method, url) => {
      const res = await call(method as 'GET' | 'POST', url!, null, method === 'POST' ? {} : undefined);
      expect(res.statusCode).toBe(401);
      expect(json(res).error.code).toBe('unauthorized');
      expect(fleet.calls).toEqual([]);
    },
  );

  it.each(WRITES.flatMap(([url, body]) => (['viewer', 'technician', 'manager'] as const).map((role) => [role, url, body] as const)))(
    'refuses a %s token writing %s (403 forbidden), and nothing reaches the fleet', async (role, url, body) => {
      const res = await call('POST', url, role, body);
      expect(res.statusCode).toBe(403);
      expect(json(res).error).toEqual({ code: 'forbidden', message: expect.stringContaining(`role ${role}`) });
      expect(fleet.calls).toEqual([]);
    },
  );

  it('checks the role before the body: a viewer with an invalid body still gets 403', async () => {
    expect((await call('POST', '/api/v1/claims', 'viewer', { nonsense: true })).statusCode).toBe(403);
  });

  it.each(READS)('lets a viewer read %s', async (url) => {
    expect((await call('GET', url, 'viewer')).statusCode).toBe(200);
  });

  it.each(['admin', 'engineer'] as const)('lets an %s token write, acting as token:<id>', async (role) => {
    for (const [url, body] of WRITES) {
      const res = await call('POST', url, role, body);
      expect(res.statusCode, url).toBeLessThan(300);
    }
    const actor = `token:${token[role]!.id}`;
    expect(fleet.calls.map((c) => c.method)).toEqual(['defineGroup', 'registerRelease', 'claim', 'claimMany', 'revoke', 'releaseQuarantine']);
    expect(fleet.calls.map((c) => c.args[1])).toEqual(Array(6).fill(actor));
    expect(fleet.calls[1]!.args[0]).toEqual({ group: 'ahu-gw', ...release });
    expect(fleet.calls[4]!.args).toEqual([DEVICE, actor, 'stolen']);
    expect(fleet.calls[5]!.args).toEqual([DEVICE, actor, 'checked on site']);
  });
});

describe('fleet routes: requests and answers', () => {
  it('claims a device (201) and refuses a malformed device id (400)', async () => {
    const res = await call('POST', '/api/v1/claims', 'engineer', claim);
    expect(res.statusCode).toBe(201);
    expect(json(res)).toEqual({ claim: { ...claim, state: 'claimed', claimedBy: `token:${token.engineer!.id}`, claimedAt: 1,
      changedBy: `token:${token.engineer!.id}`, changedAt: 2 } });
    const bad = await call('POST', '/api/v1/claims', 'engineer', { ...claim, deviceId: 'DEV-1' });
    expect(bad.statusCode).toBe(400);
    expect(json(bad).error.code).toBe('bad_request');
  });

  it('answers a bulk claim with the claims stored and the ones refused, by line', async () => {
    const res = await call('POST', '/api/v1/claims/bulk', 'admin', {
      claims: [{ ...claim, line: 2 }, { ...claim, deviceId: OTHER_DEVICE, line: 3 }],
    });
    expect(res.statusCode).toBe(200);
    const body = json(res);
    expect(body.claimed.map((c: Json) => c.deviceId)).toEqual([DEVICE]);
    expect(body.errors).toEqual([{ line: 3, deviceId: OTHER_DEVICE, code: 'device_already_claimed', reason: 'already claimed' }]);
  });

  it('passes malformed bulk items to the fleet, which refuses each on its own', async () => {
    const res = await call('POST', '/api/v1/claims/bulk', 'admin', { claims: [{ deviceId: 'x', site: 's', group: 'g' }] });
    expect(res.statusCode).toBe(200);
    expect((await call('POST', '/api/v1/claims/bulk', 'admin', { claims: [] })).statusCode).toBe(400);
  });

  it('answers revoke and release with the claim record', async () => {
    const res = json(await call('POST', `/api/v1/fleet/${DEVICE}/revoke`, 'admin', { reason: 'stolen' }));
    expect(res.claim).toMatchObject({ deviceId: DEVICE, state: 'revoked', reason: 'stolen' });
    expect((await call('POST', `/api/v1/fleet/${DEVICE}/revoke`, 'admin', {})).statusCode).toBe(400);
    const released = json(await call('POST', `/api/v1/fleet/${DEVICE}/release`, 'admin', {}));
    expect(released.claim).toMatchObject({ deviceId: DEVICE, state: 'claimed' });
  });

  it.each<[FleetErrorCode, number]>([
    ['device_already_claimed', 409], ['group_unknown', 404], ['device_unclaimed', 404], ['device_not_quarantined', 409],
    ['release_conflict', 409], ['invalid_input', 400],
  ])('maps the fleet error %s to %i with its code', async (code, status) => {
    fleet.failWith = new FleetError(code, `because ${code}`);
    const res = await call('POST', '/api/v1/claims', 'admin', claim);
    expect(res.statusCode).toBe(status);
    expect(json(res)).toEqual({ error: { code, message: `because ${code}` } });
  });

  it('refuses a release manifest whose digest is not SHA-256 hex', async () => {
    const res = await call('POST', '/api/v1/groups/ahu-gw/releases', 'admin', {
      ...release, components: [{ component: 'runtime', digest: 'xyz' }],
    });
    expect(res.statusCode).toBe(400);
  });

  it('serves the fleet view, the version report and device reports', async () => {
    expect(json(await call('GET', '/api/v1/fleet', 'viewer'))).toEqual({ devices: fleet.devices });
    expect(json(await call('GET', '/api/v1/fleet/version-report', 'viewer'))).toEqual({ devices: fleet.versionReport() });
    expect(json(await call('GET', `/api/v1/fleet/${DEVICE}/reports`, 'viewer'))).toEqual({ reports: fleet.reports(DEVICE) });
  });

  it('serves the CRLs as PEM text without a token (RFC 5280 §5: relying parties fetch them freely)', async () => {
    expect((await call('GET', '/api/v1/pki/crl', 'viewer')).statusCode).toBe(200);
    const res = await call('GET', '/api/v1/pki/crl', null);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-pem-file/);
    expect(res.body).toBe('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n-----BEGIN X509 CRL-----\nBBBB\n-----END X509 CRL-----\n');
  });
});

describe('attestation routes', () => {
  it('are reachable without a token', async () => {
    const challenge = await call('POST', ATTESTATION_CHALLENGE_PATH, null, CHALLENGE_REQUEST);
    expect(challenge.statusCode).toBe(200);
    expect(json(challenge)).toEqual({ nonce: 'bm9uY2U', expiresAt: 60_000 });
    const evidence = await call('POST', ATTESTATION_EVIDENCE_PATH, null, { evidence: 'a.b.c' });
    expect(evidence.statusCode).toBe(200);
    expect(json(evidence)).toEqual({ certificatePem: 'LEAF\nISSUING\n', caPems: ['ROOT'], notAfter: 86_400_000 });
    expect(fleet.calls).toEqual([{ method: 'challenge', args: [CHALLENGE_REQUEST] }, { method: 'appraise', args: ['a.b.c'] }]);
  });

  it.each(AttestationRefusals)('answers the refusal %s with 403 and that code', async (code) => {
    fleet.failWith = refusal(code);
    const res = await call('POST', ATTESTATION_EVIDENCE_PATH, null, { evidence: 'a.b.c' });
    expect(res.statusCode).toBe(403);
    expect(json(res)).toEqual({ error: { code, message: `refused: ${code}` } });
  });

  it.each(['challenge_proof_invalid', 'challenge_stale', 'challenge_replayed'] as const)(
    'answers a challenge refused for its proof (%s) with 403 and that code', async (code) => {
      fleet.failWith = refusal(code);
      const res = await call('POST', ATTESTATION_CHALLENGE_PATH, null, CHALLENGE_REQUEST);
      expect(res.statusCode).toBe(403);
      expect(json(res).error.code).toBe(code);
    },
  );

  it('refuses the old challenge request, a bare device id, with 400 before the fleet sees it', async () => {
    const res = await call('POST', ATTESTATION_CHALLENGE_PATH, null, { deviceId: DEVICE });
    expect(res.statusCode).toBe(400);
    expect(fleet.calls).toEqual([]);
  });

  it('hides an internal failure behind a 500 without its message', async () => {
    fleet.failWith = new Error('database is locked at /secret/path');
    const res = await call('POST', ATTESTATION_EVIDENCE_PATH, null, { evidence: 'a.b.c' });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('/secret/path');
  });

  it('exempts exactly those two POST routes and GET of the CRL: other methods, paths and neighbours still need a token', async () => {
    expect((await call('GET', ATTESTATION_CHALLENGE_PATH, null)).statusCode).toBe(401);
    expect((await call('POST', `${ATTESTATION_CHALLENGE_PATH}/`, null, CHALLENGE_REQUEST)).statusCode).toBe(401);
    expect((await call('POST', '/api/v1/pki/crl', null, {})).statusCode).toBe(401);
    expect((await call('GET', '/api/v1/pki/crl/', null)).statusCode).toBe(401);
    expect((await call('GET', '/api/v1/pki', null)).statusCode).toBe(401);
    expect((await call('POST', '/api/v1/attestation', null, {})).statusCode).toBe(401);
    expect((await call('POST', `${ATTESTATION_EVIDENCE_PATH}x`, null, {})).statusCode).toBe(401);
    expect((await call('POST', `${ATTESTATION_CHALLENGE_PATH}?x=1`, null, CHALLENGE_REQUEST)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/pki/crl?x=1', null)).statusCode).toBe(200);
  });

  it('refuses a body over 16 KiB with 413 before the fleet sees it', async () => {
    const res = await call('POST', ATTESTATION_EVIDENCE_PATH, null, { evidence: 'x'.repeat(17 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(json(res).error.code).toBe('body_too_large');
    expect(fleet.calls).toEqual([]);
  });

  it('refuses malformed requests with 400', async () => {
    expect((await call('POST', ATTESTATION_CHALLENGE_PATH, null, { ...CHALLENGE_REQUEST, deviceId: 'not-hex' })).statusCode).toBe(400);
    // A JWK with more than the public members (here a private key's "d") is not a public key.
    const withD = { ...CHALLENGE_REQUEST, publicKey: { ...CHALLENGE_REQUEST.publicKey, d: 'A'.repeat(43) } };
    expect((await call('POST', ATTESTATION_CHALLENGE_PATH, null, withD)).statusCode).toBe(400);
    expect((await call('POST', ATTESTATION_CHALLENGE_PATH, null, { ...CHALLENGE_REQUEST, signature: 'x' })).statusCode).toBe(400);
    expect((await call('POST', ATTESTATION_EVIDENCE_PATH, null, {})).statusCode).toBe(400);
    expect(fleet.calls).toEqual([]);
  });

  it('are documented without a security requirement; the other new routes keep it', async () => {
    const doc = json(await call('GET', '/api/v1/openapi.json', 'viewer'));
    expect(doc.paths[ATTESTATION_CHALLENGE_PATH].post.security).toEqual([]);
    expect(doc.paths[ATTESTATION_EVIDENCE_PATH].post.security).toEqual([]);
    expect(doc.paths['/api/v1/pki/crl'].get.security).toEqual([]);
    expect(Object.keys(doc.paths[ATTESTATION_CHALLENGE_PATH].post.requestBody.content['application/json'].schema.properties))
      .toEqual(['deviceId', 'publicKey', 'issuedAt', 'requestId', 'signature']);
    expect(doc.paths['/api/v1/claims'].post.security).toBeUndefined();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/api/v1/groups', '/api/v1/groups/{group}/releases', '/api/v1/claims', '/api/v1/claims/bulk',
      '/api/v1/fleet/{deviceId}/revoke', '/api/v1/fleet/{deviceId}/release', '/api/v1/fleet', '/api/v1/fleet/version-report',
      '/api/v1/fleet/{deviceId}/reports', '/api/v1/incidents', '/api/v1/audit', '/api/v1/audit/verify', '/api/v1/pki/crl',
    ]));
  });
});

describe('attestation rate limit', () => {
  it('refuses an address over its burst with 429 and retry-after, and lets it in again as tokens refill', async () => {
    let now = T0;
    const limited = buildApi({
      store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens: { verify: async () => undefined },
      logger: pino({ level: 'silent' }), fleet: new FakeFleet(), now: () => now, attestationRateLimit: { burst: 3, perSecond: 1 },
    });
    try {
      const ask = () => limited.inject({ method: 'POST', url: ATTESTATION_CHALLENGE_PATH, payload: CHALLENGE_REQUEST });
      for (let i = 0; i < 3; i++) expect((await ask()).statusCode).toBe(200);
      const refused = await ask();
      expect(refused.statusCode).toBe(429);
      expect(refused.json<Json>().error.code).toBe('rate_limited');
      expect(refused.headers['retry-after']).toBe('1');
      const other = await limited.inject({
        method: 'POST', url: ATTESTATION_CHALLENGE_PATH, payload: CHALLENGE_REQUEST, remoteAddress: '127.0.0.2',
      });
      expect(other.statusCode).toBe(200);
      now += 1000;
      expect((await ask()).statusCode).toBe(200);
      expect((await ask()).statusCode).toBe(429);
    } finally {
      await limited.close();
    }
  });
});

describe('CRL rate limit', () => {
  it('refuses an address over its burst with 429, as the route needs no token', async () => {
    const ask = (remoteAddress: string) => app.inject({ method: 'GET', url: '/api/v1/pki/crl', remoteAddress });
    const codes: number[] = [];
    for (let i = 0; i < 25; i++) codes.push((await ask('10.0.0.9')).statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(20);
    expect(codes.at(-1)).toBe(429);
    expect((await ask('10.0.0.10')).statusCode).toBe(200);
  });
});

describe('without a fleet', () => {
  it('serves no attestation or CRL route, and the paths need a token like any other', async () => {
    const plain = buildApi({
      store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens: { verify: async () => undefined },
      logger: pino({ level: 'silent' }),
    });
    try {
      const res = await plain.inject({ method: 'POST', url: ATTESTATION_CHALLENGE_PATH, payload: CHALLENGE_REQUEST });
      expect(res.statusCode).toBe(401);
      expect((await plain.inject({ method: 'GET', url: '/api/v1/pki/crl' })).statusCode).toBe(401);
    } finally {
      await plain.close();
    }
  });
});

describe('audit and incident routes', () => {
  it('lists audit events after a sequence number and verifies the chain', async () => {
    for (let i = 0; i < 3; i++) await audit.record({ actor: 'system', action: 'test.event', target: `t:${i}`, detail: { i } });
    const all = json(await call('GET', '/api/v1/audit', 'viewer')).events;
    const res = json(await call('GET', `/api/v1/audit?afterSeq=${all[0].seq}&limit=1`, 'viewer'));
    expect(res.events).toHaveLength(1);
    expect(res.events[0]).toMatchObject({ seq: all[0].seq + 1, prevHash: all[0].hash, detail: { i: 1 } });
    expect(json(await call('GET', '/api/v1/audit/verify', 'viewer'))).toMatchObject({ ok: true, events: all.length, problems: [] });
    expect((await call('GET', '/api/v1/audit?limit=0', 'viewer')).statusCode).toBe(400);
  });

  it('reports where a tampered chain breaks', async () => {
    const { seq } = await audit.record({ actor: 'system', action: 'test.tamper', target: 't', detail: { ok: true } });
    db.exec('DROP TRIGGER audit_events_no_update');
    db.prepare(`UPDATE audit_events SET detail = '{"ok":false}' WHERE seq = ?`).run(seq);
    expect(json(await call('GET', '/api/v1/audit/verify', 'viewer'))).toMatchObject({ ok: false, brokenAt: seq });
  });

  it('lists incidents, filtered by device', async () => {
    await incidents.raise({ kind: 'attestation_failed', severity: 'high', deviceId: DEVICE, reason: 'measurements_mismatch', summary: 's', detail: {} });
    await incidents.raise({ kind: 'attestation_failed', severity: 'high', deviceId: OTHER_DEVICE, reason: 'nonce_replayed', summary: 's', detail: {} });
    const res = json(await call('GET', `/api/v1/incidents?deviceId=${DEVICE}`, 'viewer'));
    expect(res.incidents).toHaveLength(1);
    expect(res.incidents[0]).toMatchObject({ deviceId: DEVICE, reason: 'measurements_mismatch', status: 'open', openedAt: T0 });
    expect(json(await call('GET', '/api/v1/incidents', 'viewer')).incidents).toHaveLength(2);
  });
});
