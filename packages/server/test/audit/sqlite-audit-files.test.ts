/**
 * SQLite audit databases from before: files written by earlier servers (the unkeyed chain of the
 * first version, the keyed chain of the SQLite-only log) keep verifying and continue their chain
 * under the SQL log — same table, same hash input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { openDatabase } from '../../src/db/database.ts';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { canonicalJson } from '../../src/audit/canonical-json.ts';
import { createAuditKeyFile } from '../../src/audit/audit-key.ts';
import { openAuditLog } from '../../src/audit/open-audit-log.ts';
import { verifyAuditDatabase } from '../../src/audit/offline-verification.ts';
import { guessedKeyChain, openAsAttacker, rechain, sha256Chain } from './attacker.ts';

const T0 = 1_750_000_000_000;

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });
});

/** The audit tables as the SQLite-only servers created them, with `events` rows whose hashes are left to fill in. */
function oldDatabase(file: string, opts: { version: 1 | 2; events: number; keyId?: string }): void {
  const old = openDatabase(file);
  old.exec(`CREATE TABLE schema_versions (domain TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at INTEGER NOT NULL);
    INSERT INTO schema_versions VALUES ('audit', ${opts.version}, 0);
    CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
      target TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE INDEX audit_events_target ON audit_events (target, seq);`);
  if (opts.version === 2) {
    old.exec('CREATE TABLE audit_chain (id INTEGER PRIMARY KEY CHECK (id = 1), key_id TEXT NOT NULL, keyed_from_seq INTEGER NOT NULL, adopted_at INTEGER NOT NULL)');
    old.prepare('INSERT INTO audit_chain VALUES (1, ?, 1, ?)').run(opts.keyId, T0);
  }
  const insert = old.prepare(`INSERT INTO audit_events VALUES (?, ?, 'system', 'device.claim', ?, '{"group":"g1"}', '', '')`);
  for (let seq = 1; seq <= opts.events; seq++) insert.run(seq, T0 + seq, `device:${seq}`);
  old.close();
}

describe('audit databases written by earlier servers', () => {
  let dir: string;
  let config: { keyFile: string; anchorFile: string; anchorEveryEvents: number; anchorIntervalMs: number };
  let file: string;
  const opened: SqlDatabase[] = [];
  const open = async () => {
    const database = openSqliteSqlDatabase(file);
    opened.push(database);
    await migrateServerDatabase(database);
    return database;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-audit-legacy-'));
    file = join(dir, 'old.sqlite');
    config = { keyFile: join(dir, 'audit.key'), anchorFile: join(dir, 'anchors.log'), anchorEveryEvents: 100, anchorIntervalMs: 60_000 };
  });
  afterEach(async () => {
    for (const d of opened.splice(0)) await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies a keyed chain the SQLite-only log wrote, offline and running, and continues it', async () => {
    const keyBytes = Buffer.alloc(32, 0x42);
    const key = createAuditKeyFile(config.keyFile, () => keyBytes);
    oldDatabase(file, { version: 2, events: 4, keyId: key.id });
    // Its hashes, computed without the server's code: HMAC-SHA256 under the key, label and sorted JSON.
    const attacker = openAsAttacker(file);
    rechain(attacker, 1, guessedKeyChain(keyBytes));
    attacker.close();
    expect(await verifyAuditDatabase({ databaseFile: file, keyFile: config.keyFile })).toMatchObject({ ok: true, events: 4, keyedFromSeq: 1 });
    const log = await openAuditLog(await open(), config, { clock: new ManualClock(T0 + 100) });
    try {
      expect(log.keyCreated).toBe(false);
      expect(await log.log.record({ actor: 'system', action: 'device.revoke', target: 'device:2', detail: {} })).toMatchObject({ seq: 5 });
      expect(await log.log.verify()).toMatchObject({ ok: true, events: 5, keyedFromSeq: 1, anchors: { checked: 1 } });
    } finally {
      await log.close();
    }
  });

  it('keeps the legacy events of an unkeyed chain, keys the chain from the next event on and seals the legacy head in it', async () => {
    oldDatabase(file, { version: 1, events: 4 });
    const attacker = openAsAttacker(file); // the old server's own algorithm, to fill in its hashes
    rechain(attacker, 1, sha256Chain);
    attacker.close();
    const audit = await openAuditLog(await open(), config, { clock: new ManualClock(T0 + 100) });
    try {
      expect(audit.keyCreated).toBe(true);
      expect(audit.log.keyedFromSeq).toBe(5);
      const marker = (await audit.log.list({ afterSeq: 4 }))[0]!;
      expect(marker).toMatchObject({ seq: 5, actor: 'system', action: 'audit.chain.keyed', detail: { legacyEvents: 4 } });
      expect(marker.detail.legacyHeadHash).toBe(marker.prevHash);
      expect(await audit.log.verify()).toMatchObject({ ok: true, events: 5, keyedFromSeq: 5, anchors: { checked: 1 } });
    } finally {
      await audit.close();
    }
  });

  it('detects the legacy part edited and re-chained with SHA-256 after the upgrade', async () => {
    oldDatabase(file, { version: 1, events: 4 });
    let attacker = openAsAttacker(file);
    rechain(attacker, 1, sha256Chain);
    attacker.close();
    let database = await open();
    await (await openAuditLog(database, config)).close();
    await database.close();
    attacker = openAsAttacker(file);
    attacker.prepare("UPDATE audit_events SET target = 'device:elsewhere' WHERE seq = 2").run();
    rechain(attacker, 2, sha256Chain); // rewrites 2..5, but 5 is keyed
    attacker.close();
    database = await open();
    const audit = await openAuditLog(database, config);
    try {
      const v = await audit.log.verify();
      expect(v.ok).toBe(false);
      expect(v.problems[0]).toMatchObject({ code: 'event_edited', seq: 5 });
      expect(v.problems.map((p) => p.code)).toContain('anchor_mismatch');
    } finally {
      await audit.close();
    }
  });

  it('detects the keying record moved past the end to pass the whole chain off as legacy', async () => {
    oldDatabase(file, { version: 1, events: 4 });
    let attacker = openAsAttacker(file);
    rechain(attacker, 1, sha256Chain);
    attacker.close();
    let database = await open();
    const first = await openAuditLog(database, config);
    await first.log.record({ actor: 'system', action: 'device.revoke', target: 'device:2', detail: {} });
    await first.close();
    await database.close();
    attacker = openAsAttacker(file);
    attacker.prepare('UPDATE audit_chain SET keyed_from_seq = 1000').run();
    attacker.prepare('DELETE FROM audit_events WHERE seq = 6').run();
    rechain(attacker, 1, sha256Chain);
    attacker.close();
    database = await open();
    const audit = await openAuditLog(database, config);
    try {
      const v = await audit.log.verify();
      expect(v.ok).toBe(false);
      expect(v.problems.filter((p) => p.code === 'anchor_mismatch').some((p) => p.message.includes('keyed from event 5'))).toBe(true);
    } finally {
      await audit.close();
    }
  });
});
