/**
 * The attacks of the outside review (issue 7, item 4), on real files: the server's database, its
 * audit key file and its anchor file. The attacker opens the database with better-sqlite3 as with a
 * SQLite shell, drops the triggers and rewrites rows; `verify` must say what and where.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import type { AuditConfig } from '../../src/config/config.ts';
import { openAuditLog, type OpenedAuditLog } from '../../src/audit/open-audit-log.ts';
import { verifyAuditDatabase } from '../../src/audit/offline-verification.ts';
import { anchorLine, type AuditAnchor } from '../../src/audit/audit-anchor.ts';
import type { AuditVerification } from '../../src/audit/audit-log.ts';
import { deleteAndRenumber, guessedKeyChain, openAsAttacker, rechain, seqOf, sha256Chain } from './attacker.ts';

const T0 = Date.UTC(2026, 3, 1, 8, 0, 0);
let dir: string;
let config: AuditConfig;
let dbFile: string;
let time: ManualClock;
let db: SqlDatabase | undefined;
let opened: OpenedAuditLog | undefined;
/** What the webhook receiver got (the sink), as anchor lines. */
let received: AuditAnchor[];

/** A server start on the database file: its tables migrated, the log opened, the start anchor written. */
async function openServerDatabase(): Promise<SqlDatabase> {
  const database = openSqliteSqlDatabase(dbFile);
  await migrateServerDatabase(database);
  return database;
}

async function start(): Promise<OpenedAuditLog> {
  db = await openServerDatabase();
  opened = await openAuditLog(db, config, { clock: time, sink: { publish: (a) => received.push(a) } });
  return opened;
}

async function stop(): Promise<void> {
  await opened?.close();
  await db?.close();
  opened = undefined;
  db = undefined;
}

/** Moves time on and lets the anchors that fell due be written. */
async function advance(ms: number): Promise<void> {
  time.advance(ms);
  await opened?.anchoring.idle();
}

/** Twelve events as the fleet writes them, the device.revoke in the middle; anchored every 5. */
async function recordHistory(log: OpenedAuditLog['log']): Promise<void> {
  const device = (i: number) => `device:${String(i).repeat(64).slice(0, 64)}`;
  for (let i = 1; i <= 5; i++) {
    await log.record({ actor: 'token:0123456789abcdef', action: 'device.claim', target: device(i), detail: { site: 'dc1', group: 'ahu-gw' } });
    await advance(1_000);
  }
  await log.record({ actor: 'token:0123456789abcdef', action: 'device.revoke', target: device(3), detail: { reason: 'stolen from hall 2' } });
  await advance(1_000);
  for (let i = 0; i < 6; i++) {
    await log.record({ actor: `device:${'a'.repeat(64)}`, action: 'attestation.ok', target: device(1), detail: { n: i } });
    await advance(1_000);
  }
}

/** A server that ran, recorded the history and stopped cleanly; its files stay for the attacker. */
async function serverRanAndStopped(): Promise<void> {
  await recordHistory((await start()).log);
  await stop();
}

const offline = (anchorFile = config.anchorFile): Promise<AuditVerification> =>
  verifyAuditDatabase({ databaseFile: dbFile, keyFile: config.keyFile, anchorFile });

const codes = (v: AuditVerification) => v.problems.map((p) => p.code);

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-audit-tamper-'));
  dbFile = path.join(dir, 'shellguard.sqlite');
  config = { keyFile: path.join(dir, 'audit.key'), anchorFile: path.join(dir, 'audit-anchors.log'), anchorEveryEvents: 5, anchorIntervalMs: 60_000 };
  time = new ManualClock(T0);
  received = [];
});
afterEach(async () => {
  await stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit verify against an attacker with the database file', () => {
  it('finds an untouched log intact, with its anchors', async () => {
    await serverRanAndStopped();
    const v = await offline();
    expect(v).toMatchObject({ ok: true, events: 12, keyedFromSeq: 1, problems: [] });
    // start (empty), after 5, after 10, stop at 12
    expect(v.anchors.checked).toBe(4);
    expect(v.anchors.newest).toMatchObject({ seq: 12, line: 4 });
  });

  it('(a) detects a row edited without fixing hashes, at that row only', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    const revoke = seqOf(attacker, 'device.revoke');
    attacker.prepare(`UPDATE audit_events SET detail = '{"reason":"routine"}' WHERE seq = ?`).run(revoke);
    attacker.close();
    const v = await offline();
    expect(v.ok).toBe(false);
    expect(v.brokenAt).toBe(revoke);
    expect(v.problems).toEqual([expect.objectContaining({ code: 'event_edited', seq: revoke })]);
    expect(v.problems[0]!.lastSeq).toBeUndefined();
  });

  it('(b) detects an edit re-chained forward with plain SHA-256 (the old algorithm)', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    attacker.prepare(`UPDATE audit_events SET actor = 'token:ffffffffffffffff' WHERE seq = 4`).run();
    rechain(attacker, 4, sha256Chain);
    attacker.close();
    const v = await offline();
    expect(v.ok).toBe(false);
    expect(v.brokenAt).toBe(4);
    // No link is broken any more, but no recomputed hash is a valid HMAC, and the anchors disagree.
    expect(v.problems[0]).toMatchObject({ code: 'event_edited', seq: 4, lastSeq: 12 });
    expect(codes(v)).not.toContain('chain_broken');
    expect(v.problems.filter((p) => p.code === 'anchor_mismatch').map((p) => p.seq)).toEqual([5, 10, 12]);
  });

  it('(b) detects an edit re-chained with an HMAC under a guessed key', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    attacker.prepare(`UPDATE audit_events SET detail = '{"n":99}' WHERE seq = 9`).run();
    rechain(attacker, 9, guessedKeyChain(Buffer.alloc(32)));
    attacker.close();
    const v = await offline();
    expect(v.problems[0]).toMatchObject({ code: 'event_edited', seq: 9, lastSeq: 12 });
    expect(v.problems.filter((p) => p.code === 'anchor_mismatch').map((p) => p.seq)).toEqual([10, 12]);
  });

  it('(b) detects the whole chain re-keyed under the attacker\'s key, with the key record changed to match', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    const theirKey = Buffer.alloc(32, 7);
    rechain(attacker, 1, guessedKeyChain(theirKey));
    attacker.prepare("UPDATE audit_chain SET key_id = 'feedfacefeedface'").run();
    attacker.close();
    const v = await offline();
    expect(codes(v)).toEqual(expect.arrayContaining(['key_mismatch', 'event_edited', 'anchor_mismatch']));
    expect(v.problems.find((p) => p.code === 'event_edited')).toMatchObject({ seq: 1, lastSeq: 12 });
  });

  it('(c) detects a deleted device.revoke, re-chained, with the gap left', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    const revoke = seqOf(attacker, 'device.revoke');
    attacker.prepare('DELETE FROM audit_events WHERE seq = ?').run(revoke);
    rechain(attacker, revoke + 1, sha256Chain);
    attacker.close();
    const v = await offline();
    expect(v).toMatchObject({ ok: false, events: 11, brokenAt: revoke });
    expect(v.problems[0]).toMatchObject({ code: 'event_missing', seq: revoke });
    expect(v.problems[0]!.message).toContain(`event ${revoke} missing`);
    expect(v.problems[1]).toMatchObject({ code: 'event_edited', seq: revoke + 1, lastSeq: 12 });
  });

  it('(c) detects a deleted device.revoke with the later events renumbered and re-chained', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    const revoke = seqOf(attacker, 'device.revoke');
    deleteAndRenumber(attacker, revoke);
    rechain(attacker, revoke, sha256Chain);
    attacker.close();
    const v = await offline();
    expect(v.ok).toBe(false);
    expect(v.brokenAt).toBe(revoke);
    expect(v.problems[0]).toMatchObject({ code: 'event_edited', seq: revoke, lastSeq: 11 });
    expect(v.problems.find((p) => p.code === 'truncated')).toMatchObject({ seq: 12, lastSeq: 12 });
  });

  it('(d) detects a truncated tail through the anchors', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    attacker.prepare('DELETE FROM audit_events WHERE seq > 9').run();
    attacker.close();
    const v = await offline();
    // The chain that is left is perfectly valid: only the anchors know events 10..12 existed.
    expect(v).toMatchObject({ ok: false, events: 9, brokenAt: 10 });
    expect(v.problems).toEqual([expect.objectContaining({ code: 'truncated', seq: 10, lastSeq: 12, line: 4 })]);
    expect(v.problems[0]!.message).toMatch(/records 12 events; the log ends at event 9: events 10\.\.12 were cut off/);
  });

  it('(d) still detects the truncation after the server restarted and wrote new events over the cut', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    attacker.prepare('DELETE FROM audit_events WHERE seq > 9').run();
    attacker.close();
    const log = (await start()).log;
    for (let i = 0; i < 3; i++) await log.record({ actor: 'system', action: 'later.event', target: 't', detail: { i } });
    const v = await log.verify();
    expect(v.ok).toBe(false);
    // The anchors of the first run name events 10 and 12 with other hashes than the new ones.
    expect(v.problems.filter((p) => p.code === 'anchor_mismatch').map((p) => p.seq)).toEqual([10, 12]);
  });

  it('(e) detects an edited anchor line, and says which line', async () => {
    await serverRanAndStopped();
    const lines = readFileSync(config.anchorFile, 'utf8').split('\n');
    // Make the stop anchor agree with a tail cut at 9: the MAC no longer verifies.
    const stopAnchor = JSON.parse(lines[3]!) as AuditAnchor;
    lines[3] = anchorLine({ ...stopAnchor, seq: 9 });
    writeFileSync(config.anchorFile, lines.join('\n'));
    const v = await offline();
    expect(v.problems).toEqual([expect.objectContaining({ code: 'anchor_invalid', line: 4 })]);
    expect(v.problems[0]!.message).toContain('MAC does not verify');
  });

  it('(e) detects a deleted or emptied anchor file', async () => {
    await serverRanAndStopped();
    writeFileSync(config.anchorFile, '');
    expect(codes(await offline())).toEqual(['anchors_missing']);
    rmSync(config.anchorFile);
    expect((await offline()).problems).toEqual([expect.objectContaining({ code: 'anchors_missing', message: expect.stringContaining('does not exist') })]);
  });

  it('misses a tail cut from the database and the anchor file alike, which the webhook receiver\'s copy reveals', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    attacker.prepare('DELETE FROM audit_events WHERE seq > 9').run();
    attacker.close();
    // Consistent with the cut: keep only the anchors up to event 9 (start and after 5).
    const kept = readFileSync(config.anchorFile, 'utf8').split('\n').slice(0, 2);
    writeFileSync(config.anchorFile, `${kept.join('\n')}\n`);
    expect((await offline()).ok).toBe(true); // the limit of a local anchor file
    const receiverCopy = path.join(dir, 'receiver-anchors.log');
    writeFileSync(receiverCopy, received.map((a) => `${JSON.stringify(a)}\n`).join(''));
    expect((await offline(receiverCopy)).problems).toEqual([expect.objectContaining({ code: 'truncated', seq: 10, lastSeq: 12 })]);
  });

  it('reports the same through the running server\'s verify() as offline', async () => {
    await serverRanAndStopped();
    const attacker = openAsAttacker(dbFile);
    attacker.prepare(`UPDATE audit_events SET detail = '{"reason":"routine"}' WHERE seq = 6`).run();
    attacker.close();
    const online = await (await start()).log.verify();
    expect(online.problems).toEqual((await offline()).problems);
    expect(online.problems).toEqual([expect.objectContaining({ code: 'event_edited', seq: 6 })]);
  });
});

describe('the audit key at start', () => {
  it('(f) refuses to start when the key file of a keyed database is missing, and makes no new one', async () => {
    await serverRanAndStopped();
    rmSync(config.keyFile);
    const dbAgain = await openServerDatabase();
    try {
      await expect(openAuditLog(dbAgain, config, { clock: time })).rejects.toMatchObject(
        { code: 'audit_key_missing', message: expect.stringContaining(`Restore ${config.keyFile}`) },
      );
    } finally {
      await dbAgain.close();
    }
    expect(existsSync(config.keyFile)).toBe(false);
  });

  it('(f) refuses to start when the key file was replaced by another key', async () => {
    await serverRanAndStopped();
    writeFileSync(config.keyFile, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    const dbAgain = await openServerDatabase();
    try {
      await expect(openAuditLog(dbAgain, config, { clock: time })).rejects.toMatchObject(
        { code: 'audit_key_mismatch', message: expect.stringContaining('Restore the original') },
      );
    } finally {
      await dbAgain.close();
    }
  });

  it('(f) refuses even when the keyed database holds no event yet: the anchors were signed with the key', async () => {
    await stop();
    await start();
    await stop();
    rmSync(config.keyFile);
    const dbAgain = await openServerDatabase();
    try {
      await expect(openAuditLog(dbAgain, config)).rejects.toMatchObject({ code: 'audit_key_missing' });
    } finally {
      await dbAgain.close();
    }
  });

  it('creates the key on the first start only, and reuses it after', async () => {
    expect((await start()).keyCreated).toBe(true);
    const key = readFileSync(config.keyFile, 'utf8');
    await stop();
    expect((await start()).keyCreated).toBe(false);
    expect(readFileSync(config.keyFile, 'utf8')).toBe(key);
  });
});
