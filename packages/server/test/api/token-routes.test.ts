import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { openTestAuditLog } from '../audit/test-audit-log.ts';
import { buildApi } from '../../src/api/build-api.ts';

let db: SqliteDatabase;
let app: FastifyInstance;
let audit: SqlAuditLog;
let admin: { token: string; tokenId: string };
let engineer: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;
const call = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  db = openDatabase(':memory:');
  const tokens = await openTestApiTokens(db);
  admin = await tokens.create('admin', 'admin');
  engineer = (await tokens.create('engineer', 'engineer')).token;
  audit = await openTestAuditLog(db);
  app = buildApi({
    store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, tokenAdmin: tokens, audit,
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
    const events = await audit.list({ target: `token:${created.tokenId}` });
    expect(events).toEqual([expect.objectContaining({
      actor: `token:${admin.tokenId}`, action: 'token.create', detail: { name: 'dashboard', role: 'viewer' },
    })]);
    expect(JSON.stringify(await audit.list({}))).not.toContain(created.token.slice(-43));
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
    expect((await audit.list({ target: `token:${created.tokenId}` })).map((e) => e.action)).toEqual(['token.create', 'token.revoke']);
  });

  it('refuse an unknown role', async () => {
    expect((await call('POST', '/api/v1/tokens', admin.token, { name: 'x', role: 'root' })).statusCode).toBe(400);
  });
});
