import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';
import { SqliteSiteRegistry } from '../../src/registry/sqlite-site-registry.ts';
import { ApiTokens } from '../../src/auth/api-tokens.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-audit-log.ts';
import { buildApi } from '../../src/api/build-api.ts';

let db: SqliteDatabase;
let app: FastifyInstance;
let audit: SqliteAuditLog;
let admin: { token: string; tokenId: string };
let engineer: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
const call = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  db = openDatabase(':memory:');
  const tokens = new ApiTokens(db);
  admin = tokens.create('admin', 'admin');
  engineer = tokens.create('engineer', 'engineer').token;
  audit = new SqliteAuditLog(db);
  app = buildApi({
    store: new SqliteTelemetryStore(db), registry: new SqliteSiteRegistry(db), tokens, tokenAdmin: tokens, audit,
    logger: pino({ level: 'silent' }),
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  db.close();
});

describe('token routes', () => {
  it('let an admin create a token that works at once, shown once and audited without its secret', async () => {
    const res = await call('POST', '/api/v1/tokens', admin.token, { name: 'dashboard', role: 'viewer' });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    expect(created).toMatchObject({ name: 'dashboard', role: 'viewer', token: expect.stringMatching(/^sgt_/) });
    expect((await call('GET', '/api/v1/health', created.token)).statusCode).toBe(200);
    const listed = (await call('GET', '/api/v1/tokens', admin.token)).json<Json>().tokens as Json[];
    expect(listed.find((t) => t.tokenId === created.tokenId)).toEqual(expect.not.objectContaining({ token: expect.anything() }));
    const events = audit.list({ target: `token:${created.tokenId}` });
    expect(events).toEqual([expect.objectContaining({
      actor: `token:${admin.tokenId}`, action: 'token.create', detail: { name: 'dashboard', role: 'viewer' },
    })]);
    expect(JSON.stringify(audit.list({}))).not.toContain(created.token.slice(-43));
  });

  it('refuse an engineer (no minting of admin tokens by anyone but an admin)', async () => {
    expect((await call('POST', '/api/v1/tokens', engineer, { name: 'me too', role: 'admin' })).statusCode).toBe(403);
    expect((await call('GET', '/api/v1/tokens', engineer)).statusCode).toBe(403);
  });

  it('revoke a token so it stops working, and say when there is none to revoke', async () => {
    const created = (await call('POST', '/api/v1/tokens', admin.token, { name: 'temp', role: 'technician' })).json<Json>();
    const res = await call('POST', `/api/v1/tokens/${created.tokenId}/revoke`, admin.token);
    expect(res.statusCode).toBe(200);
    expect((await call('GET', '/api/v1/health', created.token)).statusCode).toBe(401);
    expect((await call('POST', `/api/v1/tokens/${created.tokenId}/revoke`, admin.token)).statusCode).toBe(404);
    expect(audit.list({ target: `token:${created.tokenId}` }).map((e) => e.action)).toEqual(['token.create', 'token.revoke']);
  });

  it('refuse an unknown role', async () => {
    expect((await call('POST', '/api/v1/tokens', admin.token, { name: 'x', role: 'root' })).statusCode).toBe(400);
  });
});
