import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-audit-log.ts';
import { GENESIS_HASH, auditEventHash, keyedEventHash } from '../../src/audit/event-hash.ts';
import { auditKeyFromBytes } from '../../src/audit/audit-key.ts';
import { canonicalJson } from '../../src/audit/canonical-json.ts';
import { openAuditLog } from '../../src/audit/open-audit-log.ts';
import { openAsAttacker, rechain, sha256Chain } from './attacker.ts';

const T0 = 1_750_000_000_000;
const KEY_BYTES = Buffer.alloc(32, 0x5a);
const key = auditKeyFromBytes(KEY_BYTES);
let db: SqliteDatabase;
let log: SqliteAuditLog;
let clock: number;

function recordFive(): void {
  for (let i = 1; i <= 5; i++) {
    log.record({ actor: 'token:0123456789abcdef', action: 'device.claim', target: `device:${i}`, detail: { group: 'g1', n: i } });
    clock += 1000;
  }
}

/** What an attacker with a SQLite shell would do: remove the guard first. */
function dropGuards(): void {
  db.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;');
}

const intact = (events: number) => ({ ok: true, events, keyedFromSeq: 1, problems: [], anchors: { checked: 0 } });

beforeEach(() => {
  clock = T0;
  db = openDatabase(':memory:');
  log = new SqliteAuditLog(db, { now: () => clock, key });
});
afterEach(() => db.close());

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });
});

describe('SqliteAuditLog', () => {
  it('chains events from a genesis of 64 zeros, each hash an HMAC under the key covering the previous one', () => {
    recordFive();
    const events = log.list({});
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < events.length; i++) expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
    const first = events[0]!;
    const content = canonicalJson({
      seq: 1, at: T0, actor: first.actor, action: first.action, target: first.target, detail: first.detail, prevHash: GENESIS_HASH,
    });
    const expected = createHmac('sha256', KEY_BYTES).update(`shellguard/audit-event/v1\n${content}`).digest('hex');
    expect(first.hash).toBe(expected);
    expect(keyedEventHash(key, first)).toBe(first.hash);
    // Not the unkeyed hash anyone could recompute.
    expect(first.hash).not.toBe(createHash('sha256').update(content).digest('hex'));
    expect(log.verify()).toEqual(intact(5));
  });

  it('returns the stored event from record, with the injected time', () => {
    const e = log.record({ actor: 'system', action: 'x.y', target: 't', detail: { b: 2, a: 1 } });
    expect(e).toMatchObject({ seq: 1, at: T0, detail: { a: 1, b: 2 } });
    expect(log.list({})[0]).toEqual(e);
  });

  it('pages by afterSeq and limit, and filters by target', () => {
    recordFive();
    expect(log.list({ afterSeq: 2, limit: 2 }).map((e) => e.seq)).toEqual([3, 4]);
    expect(log.list({ target: 'device:4' }).map((e) => e.seq)).toEqual([4]);
    expect(log.list({ limit: 100_000 })).toHaveLength(5);
  });

  it('pages newest first: the newest events, then those before a sequence number, of one target too', () => {
    recordFive();
    expect(log.list({ newestFirst: true, limit: 2 }).map((e) => e.seq)).toEqual([5, 4]);
    expect(log.list({ newestFirst: true, beforeSeq: 4, limit: 2 }).map((e) => e.seq)).toEqual([3, 2]);
    expect(log.list({ newestFirst: true, beforeSeq: 2 }).map((e) => e.seq)).toEqual([1]);
    expect(log.list({ newestFirst: true, beforeSeq: 1 })).toEqual([]);
    expect(log.list({ newestFirst: true, target: 'device:4' }).map((e) => e.seq)).toEqual([4]);
    expect(log.list({ newestFirst: true, beforeSeq: 4, target: 'device:4' })).toEqual([]);
  });

  it('filters by exact actor and by action prefix, taking % and _ in the prefix literally', () => {
    recordFive();
    log.record({ actor: 'user:alice', action: 'alarm.acknowledge', target: 'alarm:1', detail: {} });
    log.record({ actor: 'user:alice_x', action: 'alarm_%weird', target: 'alarm:2', detail: {} });
    expect(log.list({ actor: 'user:alice' }).map((e) => e.seq)).toEqual([6]);
    expect(log.list({ actionPrefix: 'alarm.' }).map((e) => e.seq)).toEqual([6]);
    expect(log.list({ actionPrefix: 'alarm_%' }).map((e) => e.seq)).toEqual([7]);
    expect(log.list({ actionPrefix: 'device.', newestFirst: true, limit: 2 }).map((e) => e.seq)).toEqual([5, 4]);
    expect(log.list({ actionPrefix: '%' })).toEqual([]);
  });

  it('refuses UPDATE and DELETE on the events and on the keying record through the same connection', () => {
    recordFive();
    expect(() => db.prepare("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_events WHERE seq = 5').run()).toThrow(/append-only/);
    expect(() => db.prepare('UPDATE audit_chain SET keyed_from_seq = 99').run()).toThrow(/written once/);
    expect(() => db.prepare('DELETE FROM audit_chain').run()).toThrow(/written once/);
    expect(log.verify()).toEqual(intact(5));
  });

  it('detects an edited detail at the edited event', () => {
    recordFive();
    dropGuards();
    db.prepare(`UPDATE audit_events SET detail = '{"group":"g2","n":3}' WHERE seq = 3`).run();
    expect(log.verify()).toMatchObject({ ok: false, events: 5, brokenAt: 3, problems: [{ code: 'event_edited', seq: 3 }] });
  });

  it('detects an edited time at the edited event', () => {
    recordFive();
    dropGuards();
    db.prepare('UPDATE audit_events SET at = at + 1 WHERE seq = 4').run();
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 4 });
  });

  it('detects an event re-hashed with the unkeyed algorithm at that event, and the broken link after it', () => {
    recordFive();
    dropGuards();
    const e2 = log.list({ afterSeq: 1, limit: 1 })[0]!;
    const forged = { ...e2, actor: 'token:ffffffffffffffff' };
    db.prepare('UPDATE audit_events SET actor = ?, hash = ? WHERE seq = 2').run(forged.actor, auditEventHash(forged));
    expect(log.verify().problems.map((p) => [p.code, p.seq])).toEqual([['event_edited', 2], ['chain_broken', 3]]);
  });

  it('detects a deleted event at the missing sequence number', () => {
    recordFive();
    dropGuards();
    db.prepare('DELETE FROM audit_events WHERE seq = 2').run();
    expect(log.verify()).toMatchObject({ ok: false, events: 4, brokenAt: 2, problems: [{ code: 'event_missing', seq: 2 }] });
  });

  it('detects a detail that is no longer JSON', () => {
    recordFive();
    dropGuards();
    db.prepare("UPDATE audit_events SET detail = 'oops' WHERE seq = 1").run();
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 1, problems: [{ code: 'event_edited', seq: 1 }] });
  });

  it('continues the chain across reopening the database file with the same key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-audit-'));
    try {
      const file = join(dir, 'a.sqlite');
      let fileDb = openDatabase(file);
      new SqliteAuditLog(fileDb, { now: () => T0, key }).record({ actor: 'system', action: 'a.b', target: 'x', detail: {} });
      fileDb.close();
      fileDb = openDatabase(file);
      const reopened = new SqliteAuditLog(fileDb, { now: () => T0 + 1, key });
      const second = reopened.record({ actor: 'system', action: 'a.c', target: 'x', detail: {} });
      expect(second.seq).toBe(2);
      expect(reopened.verify()).toEqual(intact(2));
      expect(() => new SqliteAuditLog(fileDb, { key: auditKeyFromBytes(Buffer.alloc(32, 1)) })).toThrow(expect.objectContaining({ code: 'audit_key_mismatch' }));
      fileDb.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database on disk without a key; an in-memory one runs on a throw-away key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-audit-'));
    const fileDb = openDatabase(join(dir, 'a.sqlite'));
    try {
      expect(() => new SqliteAuditLog(fileDb)).toThrow(expect.objectContaining({ code: 'audit_key_required' }));
    } finally {
      fileDb.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const memory = openDatabase(':memory:');
    const throwAway = new SqliteAuditLog(memory);
    throwAway.record({ actor: 'system', action: 'a.b', target: 'x', detail: {} });
    expect(throwAway.verify()).toEqual(intact(1));
    memory.close();
  });

  it('reports head() as undefined inside a transaction, so nothing is anchored that may roll back', () => {
    recordFive();
    const head = log.head();
    expect(head).toMatchObject({ seq: 5 });
    db.transaction(() => {
      log.record({ actor: 'system', action: 'a.b', target: 'x', detail: {} });
      expect(log.head()).toBeUndefined();
    })();
    expect(log.head()).toMatchObject({ seq: 6 });
  });
});

/** A database written by a server before the chain was keyed: migration 1 only, SHA-256 hashes. */
function legacyDatabase(file: string, events: number): void {
  const legacy = openDatabase(file);
  legacy.exec(`CREATE TABLE schema_versions (domain TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at INTEGER NOT NULL);
    INSERT INTO schema_versions VALUES ('audit', 1, 0);
    CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
      target TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE INDEX audit_events_target ON audit_events (target, seq);`);
  const insert = legacy.prepare("INSERT INTO audit_events VALUES (?, ?, 'system', 'device.claim', ?, '{}', '', '')");
  for (let seq = 1; seq <= events; seq++) insert.run(seq, T0 + seq, `device:${seq}`);
  legacy.close();
  const attacker = openAsAttacker(file); // the old server's own algorithm, to fill in its hashes
  rechain(attacker, 1, sha256Chain);
  attacker.close();
}

describe('upgrading a database written before the chain was keyed', () => {
  let dir: string;
  let config: { keyFile: string; anchorFile: string; anchorEveryEvents: number; anchorIntervalMs: number };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-audit-legacy-'));
    config = { keyFile: join(dir, 'audit.key'), anchorFile: join(dir, 'anchors.log'), anchorEveryEvents: 100, anchorIntervalMs: 60_000 };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the legacy events, keys the chain from the next event on and seals the legacy head in it', () => {
    const file = join(dir, 'old.sqlite');
    legacyDatabase(file, 4);
    const fileDb = openDatabase(file);
    const opened = openAuditLog(fileDb, config, { now: () => T0 + 100 });
    try {
      expect(opened.keyCreated).toBe(true);
      expect(opened.log.keyedFromSeq).toBe(5);
      const marker = opened.log.list({ afterSeq: 4 })[0]!;
      expect(marker).toMatchObject({ seq: 5, actor: 'system', action: 'audit.chain.keyed', detail: { legacyEvents: 4 } });
      expect(marker.detail.legacyHeadHash).toBe(marker.prevHash);
      expect(opened.log.verify()).toMatchObject({ ok: true, events: 5, keyedFromSeq: 5, anchors: { checked: 1 } });
    } finally {
      opened.close();
      fileDb.close();
    }
  });

  it('detects the legacy part edited and re-chained with SHA-256 after the upgrade', () => {
    const file = join(dir, 'old.sqlite');
    legacyDatabase(file, 4);
    let fileDb = openDatabase(file);
    openAuditLog(fileDb, config).close();
    fileDb.close();
    const attacker = openAsAttacker(file);
    attacker.prepare("UPDATE audit_events SET target = 'device:elsewhere' WHERE seq = 2").run();
    rechain(attacker, 2, sha256Chain); // rewrites 2..5, but 5 is keyed
    attacker.close();
    fileDb = openDatabase(file);
    const opened = openAuditLog(fileDb, config);
    try {
      const v = opened.log.verify();
      expect(v.ok).toBe(false);
      expect(v.problems[0]).toMatchObject({ code: 'event_edited', seq: 5 });
      expect(v.problems.map((p) => p.code)).toContain('anchor_mismatch');
    } finally {
      opened.close();
      fileDb.close();
    }
  });

  it('detects the keying record moved past the end to pass the whole chain off as legacy', () => {
    const file = join(dir, 'old.sqlite');
    legacyDatabase(file, 4);
    let fileDb = openDatabase(file);
    const first = openAuditLog(fileDb, config);
    first.log.record({ actor: 'system', action: 'device.revoke', target: 'device:2', detail: {} });
    first.close();
    fileDb.close();
    const attacker = openAsAttacker(file);
    attacker.prepare('UPDATE audit_chain SET keyed_from_seq = 1000').run();
    attacker.prepare('DELETE FROM audit_events WHERE seq = 6').run();
    rechain(attacker, 1, sha256Chain);
    attacker.close();
    fileDb = openDatabase(file);
    const opened = openAuditLog(fileDb, config);
    try {
      const v = opened.log.verify();
      expect(v.ok).toBe(false);
      expect(v.problems.filter((p) => p.code === 'anchor_mismatch').some((p) => p.message.includes('keyed from event 5'))).toBe(true);
    } finally {
      opened.close();
      fileDb.close();
    }
  });
});
