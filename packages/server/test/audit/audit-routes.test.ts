import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-audit-log.ts';
import { auditRoutes } from '../../src/api/audit-routes.ts';

let db: SqliteDatabase;
let app: FastifyInstance;
let log: SqliteAuditLog;

beforeEach(async () => {
  db = openDatabase(':memory:');
  log = new SqliteAuditLog(db, { now: () => 1_750_000_000_000 });
  app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  await app.register(auditRoutes, { audit: log });
});
afterEach(async () => {
  await app.close();
  db.close();
});

describe('GET /audit/verify', () => {
  it('answers every member of the verification, problems included (the schema serialises them)', async () => {
    for (let i = 0; i < 4; i++) log.record({ actor: 'system', action: 'a.b', target: 't', detail: { i } });
    db.exec('DROP TRIGGER audit_events_no_delete');
    db.prepare('DELETE FROM audit_events WHERE seq = 2').run();
    const res = await app.inject({ method: 'GET', url: '/audit/verify' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(log.verify());
    expect(res.json()).toMatchObject({
      ok: false, events: 3, brokenAt: 2, keyedFromSeq: 1, anchors: { checked: 0 },
      problems: [{ code: 'event_missing', seq: 2, message: expect.stringContaining('event 2 missing') }],
    });
  });
});
