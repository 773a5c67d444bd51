import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { ephemeralAuditKey } from '../../src/audit/audit-key.ts';
import { auditRoutes } from '../../src/api/audit-routes.ts';

let database: SqlDatabase;
let app: FastifyInstance;
let log: SqlAuditLog;

beforeEach(async () => {
  database = openSqliteSqlDatabase(':memory:');
  await migrateServerDatabase(database);
  log = await SqlAuditLog.open(database.db, { engine: 'sqlite', key: ephemeralAuditKey(), now: () => 1_750_000_000_000 });
  app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  await app.register(auditRoutes, { audit: log });
});
afterEach(async () => {
  await app.close();
  await database.close();
});

describe('GET /audit', () => {
  it('pages oldest first, or newest first before a sequence number, filtered by action prefix', async () => {
    for (let i = 0; i < 4; i++) await log.record({ actor: 'system', action: i % 2 ? 'alarm.ack' : 'device.claim', target: 't', detail: { i } });
    const page = await app.inject({ method: 'GET', url: '/audit?afterSeq=1&limit=2' });
    expect(page.json<{ events: { seq: number }[] }>().events.map((e) => e.seq)).toEqual([2, 3]);
    const newest = await app.inject({ method: 'GET', url: '/audit?order=desc&action=alarm.' });
    expect(newest.json<{ events: { seq: number }[] }>().events.map((e) => e.seq)).toEqual([4, 2]);
  });
});

describe('GET /audit/verify', () => {
  it('answers every member of the verification, problems included (the schema serialises them)', async () => {
    for (let i = 0; i < 4; i++) await log.record({ actor: 'system', action: 'a.b', target: 't', detail: { i } });
    await sql.raw('DROP TRIGGER audit_events_no_delete').execute(database.db);
    await sql.raw('DELETE FROM audit_events WHERE seq = 2').execute(database.db);
    const res = await app.inject({ method: 'GET', url: '/audit/verify' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(await log.verify());
    expect(res.json()).toMatchObject({
      ok: false, events: 3, brokenAt: 2, keyedFromSeq: 1, anchors: { checked: 0 },
      problems: [{ code: 'event_missing', seq: 2, message: expect.stringContaining('event 2 missing') }],
    });
  });
});
