import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { ATTESTATION_EVIDENCE_PATH, ShellguardError } from '@shellguard/protocol';
import { AlarmError } from '../../src/alarms/alarm-error.ts';
import { MaintenanceError } from '../../src/analytics/maintenance/maintenance-book.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import { buildApi } from '../../src/api/build-api.ts';
import { DOMAIN_HTTP_STATUSES } from '../../src/api/http-status/domain-http-status.ts';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { AttestationError, FleetError } from '../../src/fleet/fleet-error.ts';
import { PkiError } from '../../src/pki/pki-error.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { TelemetryError } from '../../src/telemetry/telemetry-error.ts';
import { FakeFleet } from './fleet-api-fake.ts';

let db: SqliteDatabase;
let app: FastifyInstance;
let fleet: FakeFleet;
let admin: string;
const logLines: string[] = [];

beforeAll(async () => {
  db = openDatabase(':memory:');
  const tokens = await openTestApiTokens(db);
  admin = (await tokens.ensureAdminToken())!;
  fleet = new FakeFleet();
  app = buildApi({
    store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, fleet,
    logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  db.close();
});
beforeEach(() => {
  fleet.failWith = undefined;
  logLines.length = 0;
});

/** POST /claims, whose fleet call throws `err`: the handler is the API's, whatever the route. */
async function claimFailingWith(err: Error) {
  fleet.failWith = err;
  const res = await app.inject({
    method: 'POST', url: '/api/v1/claims', headers: { authorization: `Bearer ${admin}` },
    payload: { deviceId: 'd'.repeat(64), site: 'site-a', group: 'ahu-gw' },
  });
  return { status: res.statusCode, body: res.json<{ error: { code: string; message: string } }>(), text: res.body };
}

describe('DOMAIN_HTTP_STATUSES', () => {
  it('gives every code of every domain an error status (400-599)', () => {
    for (const { errorClass, status } of DOMAIN_HTTP_STATUSES) {
      const codes = Object.keys(status);
      expect(codes.length, errorClass.name).toBeGreaterThan(0);
      for (const code of codes) {
        expect(Number.isInteger(status[code]), `${errorClass.name} ${code}`).toBe(true);
        expect(status[code], `${errorClass.name} ${code}`).toBeGreaterThanOrEqual(400);
        expect(status[code], `${errorClass.name} ${code}`).toBeLessThanOrEqual(599);
      }
    }
  });

  it('lists each domain once', () => {
    const classes = DOMAIN_HTTP_STATUSES.map((d) => d.errorClass);
    expect(new Set(classes).size).toBe(classes.length);
  });
});

describe('the API error handler', () => {
  it.each<[string, Error, number]>([
    ['csr_malformed', new PkiError('csr_malformed', 'the certificate signing request could not be parsed'), 400],
    ['csr_invalid_signature', new PkiError('csr_invalid_signature', 'the CSR signature does not verify'), 400],
    ['csr_id_mismatch', new PkiError('csr_id_mismatch', 'the CSR subject CN must be the device id'), 400],
    ['ca_exists', new PkiError('ca_exists', 'a CA already exists'), 409],
    ['webhook_invalid', new AlarmError('webhook_invalid', 'webhook w1: url must be http(s)'), 400],
  ])('answers %s, a 500 before, with %i, its code and its message', async (code, err, expected) => {
    expect(await claimFailingWith(err)).toMatchObject({ status: expected, body: { error: { code, message: err.message } } });
  });

  it('answers a maintenance error with its own code, not a generic one', async () => {
    const res = await claimFailingWith(new MaintenanceError('work_order_not_found', 'no work order 9'));
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'work_order_not_found', message: 'no work order 9' } } });
  });

  it('tells domains apart by class: device_unclaimed is a fleet 404 but an attestation refusal 403', async () => {
    expect((await claimFailingWith(new FleetError('device_unclaimed', 'no claim'))).status).toBe(404);
    expect((await claimFailingWith(new AttestationError('device_unclaimed', 'not claimed'))).status).toBe(403);
    fleet.failWith = new AttestationError('device_unclaimed', 'not claimed');
    const refused = await app.inject({ method: 'POST', url: ATTESTATION_EVIDENCE_PATH, payload: { evidence: 'a.b.c' } });
    expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'device_unclaimed']);
  });

  it('answers an unknown error with a 500 that says nothing about it, and logs it on the server', async () => {
    const res = await claimFailingWith(new Error('database is locked at /secret/path'));
    expect(res).toEqual({ status: 500, body: { error: { code: 'internal', message: 'internal error; see the server log' } }, text: expect.any(String) });
    expect(res.text).not.toContain('/secret/path');
    expect(logLines.join('\n')).toContain('database is locked at /secret/path');
  });

  it('hides the message of a ShellguardError of no known domain, and of a domain error that is the server\'s fault', async () => {
    const unknown = await claimFailingWith(new ShellguardError('mystery', 'opened /secret/one'));
    expect([unknown.status, unknown.text]).toEqual([500, expect.not.stringContaining('/secret/one')]);
    const corrupt = await claimFailingWith(new TelemetryError('telemetry_chunk_corrupt', 'chunk 7 of /secret/two.db'));
    expect(corrupt).toMatchObject({ status: 500, body: { error: { code: 'telemetry_chunk_corrupt', message: 'internal error' } } });
    expect(corrupt.text).not.toContain('/secret/two');
  });

  it('answers a request that fails its schema with 400 bad_request', async () => {
    const res = await app.inject({
      method: 'POST', url: '/api/v1/claims', headers: { authorization: `Bearer ${admin}` }, payload: { deviceId: 'x' },
    });
    expect([res.statusCode, res.json().error.code]).toEqual([400, 'bad_request']);
  });
});
