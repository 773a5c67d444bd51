import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditKeyFromBytes, createAuditKeyFile, readAuditKeyFile } from '../../src/audit/audit-key.ts';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { openAuditLog } from '../../src/audit/open-audit-log.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sg-audit-key-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const fixedRandom = (n: number) => Buffer.alloc(n, 0xc3);

describe('the audit key file', () => {
  it('is created with mode 0600 as 64 hex characters from the injected randomness', () => {
    const file = path.join(dir, 'audit.key');
    const key = createAuditKeyFile(file, fixedRandom);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${'c3'.repeat(32)}\n`);
    expect(readAuditKeyFile(file, { requirePrivate: true }).id).toBe(key.id);
  });

  it('is never overwritten', () => {
    const file = path.join(dir, 'audit.key');
    createAuditKeyFile(file);
    expect(() => createAuditKeyFile(file)).toThrow(/EEXIST/);
  });

  it('is refused by the server when others may read it, and read by an offline check anyway', () => {
    const file = path.join(dir, 'audit.key');
    createAuditKeyFile(file);
    chmodSync(file, 0o644);
    expect(() => readAuditKeyFile(file, { requirePrivate: true })).toThrow(expect.objectContaining({ code: 'audit_key_insecure', message: expect.stringContaining('chmod 600') }));
    expect(readAuditKeyFile(file).id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is refused when it does not hold 32 bytes of hex', () => {
    const file = path.join(dir, 'audit.key');
    writeFileSync(file, 'not a key\n', { mode: 0o600 });
    expect(() => readAuditKeyFile(file)).toThrow(expect.objectContaining({ code: 'audit_key_invalid' }));
    expect(() => readAuditKeyFile(path.join(dir, 'absent.key'))).toThrow(expect.objectContaining({ code: 'audit_key_missing' }));
  });

  it('does not show its bytes when printed or serialised', () => {
    const key = auditKeyFromBytes(fixedRandom(32));
    const hex = 'c3'.repeat(32);
    for (const shown of [JSON.stringify(key), inspect(key, { depth: 5, showHidden: true }), String(key)]) expect(shown).not.toContain(hex);
  });

  it('never reaches the database or the anchor file', async () => {
    const config = { keyFile: path.join(dir, 'audit.key'), anchorFile: path.join(dir, 'anchors.log'), anchorEveryEvents: 1, anchorIntervalMs: 1_000 };
    const database = openSqliteSqlDatabase(path.join(dir, 'shellguard.sqlite'));
    await migrateServerDatabase(database);
    const opened = await openAuditLog(database, config, { random: fixedRandom });
    for (let i = 0; i < 5; i++) await opened.log.record({ actor: 'system', action: 'a.b', target: 't', detail: { i } });
    await opened.anchoring.anchorNow('events');
    await opened.close();
    await database.close();
    const raw = fixedRandom(32);
    for (const name of readdirSync(dir).filter((f) => f !== 'audit.key')) {
      const bytes = readFileSync(path.join(dir, name));
      expect(bytes.includes(raw), name).toBe(false);
      expect(bytes.includes(Buffer.from(raw.toString('hex'))), name).toBe(false);
    }
  });
});
