import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openAuditLog } from '../../../server/src/audit/index.ts';
import { migrateServerDatabase, openSqliteSqlDatabase } from '../../../server/src/db/index.ts';
import { createTestDatabase } from '../../../server/src/testing/index.ts';
import { createApiClient, type ApiClient } from '../../src/api-client.ts';
import { runAuditVerify, verifyAudit } from '../../src/commands/audit.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-api-server.ts';

class Buffered {
  text = '';
  write(s: string) { this.text += s; }
}

let api: FakeApiServer;
let client: ApiClient;
let out: Buffered;
beforeAll(async () => {
  api = await startFakeApiServer();
  client = createApiClient({ server: api.url, token: `sgt_0123456789abcdef_${'A'.repeat(43)}`, ca: api.caFile });
});
afterAll(async () => api.close());
beforeEach(() => { out = new Buffered(); });

describe('audit verify (over the API)', () => {
  it('prints what is wrong and where, one line per problem', async () => {
    api.respond = () => ({ status: 200, body: {
      ok: false, events: 11, brokenAt: 6, keyedFromSeq: 1, anchors: { checked: 4 },
      problems: [
        { code: 'event_missing', seq: 6, message: 'event 6 missing: deleted from the log' },
        { code: 'event_edited', seq: 7, lastSeq: 12, message: 'events 7..12: content does not match the keyed hash' },
        { code: 'anchor_invalid', line: 3, message: 'anchor file x line 3: its MAC does not verify under this key' },
      ],
    } });
    expect(await verifyAudit(client, out)).toBe(false);
    expect(out.text).toContain('audit log BROKEN at event 6 of 11: 3 problem(s)');
    expect(out.text).toMatch(/event_missing\s+event 6 missing/);
    expect(out.text).toMatch(/event_edited\s+events 7\.\.12: content/);
    expect(out.text).toMatch(/anchor_invalid\s+anchor file x line 3/);
    expect(api.requests.at(-1)?.url).toBe('/api/v1/audit/verify');
  });

  it('says an intact log is intact, with its newest anchor', async () => {
    api.respond = () => ({ status: 200, body: {
      ok: true, events: 12, keyedFromSeq: 1, problems: [], anchors: { checked: 4, newest: { seq: 12, hash: 'a'.repeat(64), at: Date.UTC(2026, 3, 1), line: 4 } },
    } });
    expect(await verifyAudit(client, out)).toBe(true);
    expect(out.text).toContain('audit log intact: 12 event(s), every hash chained, every event keyed');
    expect(out.text).toContain('4 anchor(s) agree; newest: event 12 at 2026-04-01T00:00:00Z');
  });

  it('still reads a server that answers only ok, events and brokenAt', async () => {
    api.respond = () => ({ status: 200, body: { ok: false, events: 9, brokenAt: 4 } });
    expect(await verifyAudit(client, out)).toBe(false);
    expect(out.text).toContain('BROKEN at event 4 of 9');
  });
});

describe('audit verify --db --key --anchors (offline)', () => {
  let dir: string;
  let files: { db: string; key: string; anchors: string };
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-cli-audit-'));
    files = { db: path.join(dir, 'shellguard.sqlite'), key: path.join(dir, 'audit.key'), anchors: path.join(dir, 'audit-anchors.log') };
    const database = openSqliteSqlDatabase(files.db);
    await migrateServerDatabase(database);
    const opened = await openAuditLog(database, { keyFile: files.key, anchorFile: files.anchors, anchorEveryEvents: 100, anchorIntervalMs: 60_000 });
    await opened.log.record({ actor: 'system', action: 'device.revoke', target: 'device:x', detail: { reason: 'test' } });
    await opened.close();
    await database.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const noApi = () => { throw new Error('the offline check must not ask the API'); };

  it('checks a database file without the API', async () => {
    expect(await runAuditVerify(files, noApi, out)).toBe(true);
    expect(out.text).toContain('audit log intact: 1 event(s)');
    expect(out.text).toContain('2 anchor(s) agree');
  });

  it('warns that without --anchors a cut-off tail cannot show', async () => {
    expect(await runAuditVerify({ db: files.db, key: files.key }, noApi, out)).toBe(true);
    expect(out.text).toContain('warning: no --anchors file');
  });

  it('says what is missing from the command line', async () => {
    await expect(runAuditVerify({ db: files.db }, noApi, out)).rejects.toMatchObject({ code: 'cli_usage', message: expect.stringContaining('--key') });
    await expect(runAuditVerify({ key: files.key }, noApi, out)).rejects.toMatchObject({ code: 'cli_usage' });
    await expect(runAuditVerify({ db: path.join(dir, 'nope.sqlite'), key: files.key }, noApi, out))
      .rejects.toMatchObject({ code: 'audit_database_invalid' });
  });
});

describe('audit verify --db postgres://… (offline, the scale-out database)', () => {
  it('checks the chain a server keeps in PostgreSQL, and says what was cut from it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-cli-audit-pg-'));
    const t = await createTestDatabase('postgres', 'cli_audit');
    try {
      await migrateServerDatabase(t.database);
      const files = { db: t.location, key: path.join(dir, 'audit.key'), anchors: path.join(dir, 'audit-anchors.log') };
      const opened = await openAuditLog(t.database, { keyFile: files.key, anchorFile: files.anchors, anchorEveryEvents: 100, anchorIntervalMs: 60_000 });
      for (let i = 0; i < 3; i++) await opened.log.record({ actor: 'system', action: 'device.claim', target: `device:${i}`, detail: {} });
      await opened.close();
      const noApi = () => { throw new Error('the offline check must not ask the API'); };
      expect(await runAuditVerify(files, noApi, out)).toBe(true);
      expect(out.text).toContain('audit log intact: 3 event(s)');
      // An attacker with the database's owner role: the append-only triggers off, the newest event gone.
      await t.database.postgres!.withClient(async (c) => {
        await c.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
        await c.query('DELETE FROM audit_events WHERE seq = 3');
      });
      out = new Buffered();
      expect(await runAuditVerify(files, noApi, out)).toBe(false);
      expect(out.text).toMatch(/truncated\s+anchor at line 2 .* events? 3/);
    } finally {
      await t.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
