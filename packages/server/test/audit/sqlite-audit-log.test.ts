import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { GENESIS_HASH, SqliteAuditLog, auditEventHash } from '../../src/audit/sqlite-audit-log.ts';
import { canonicalJson } from '../../src/audit/canonical-json.ts';

const T0 = 1_750_000_000_000;
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

beforeEach(() => {
  clock = T0;
  db = openDatabase(':memory:');
  log = new SqliteAuditLog(db, { now: () => clock });
});
afterEach(() => db.close());

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });
});

describe('SqliteAuditLog', () => {
  it('chains events from a genesis of 64 zeros, each hash covering the previous one', () => {
    recordFive();
    const events = log.list({});
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < events.length; i++) expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
    const first = events[0]!;
    const expected = createHash('sha256').update(canonicalJson({
      seq: 1, at: T0, actor: first.actor, action: first.action, target: first.target, detail: first.detail, prevHash: GENESIS_HASH,
    })).digest('hex');
    expect(first.hash).toBe(expected);
    expect(auditEventHash(first)).toBe(first.hash);
    expect(log.verify()).toEqual({ ok: true, events: 5 });
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

  it('refuses UPDATE and DELETE on the table through the same connection', () => {
    recordFive();
    expect(() => db.prepare("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_events WHERE seq = 5').run()).toThrow(/append-only/);
    expect(log.verify()).toEqual({ ok: true, events: 5 });
  });

  it('detects an edited detail at the edited event', () => {
    recordFive();
    dropGuards();
    db.prepare(`UPDATE audit_events SET detail = '{"group":"g2","n":3}' WHERE seq = 3`).run();
    expect(log.verify()).toEqual({ ok: false, events: 5, brokenAt: 3 });
  });

  it('detects an edited actor, time or action at the edited event', () => {
    recordFive();
    dropGuards();
    db.prepare("UPDATE audit_events SET at = at + 1 WHERE seq = 4").run();
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 4 });
  });

  it('detects an event rewritten with a recomputed hash at the next event', () => {
    recordFive();
    dropGuards();
    const e2 = log.list({ afterSeq: 1, limit: 1 })[0]!;
    const forged = { ...e2, actor: 'token:ffffffffffffffff' };
    db.prepare('UPDATE audit_events SET actor = ?, hash = ? WHERE seq = 2').run(forged.actor, auditEventHash(forged));
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 3 });
  });

  it('detects a deleted event at the missing sequence number', () => {
    recordFive();
    dropGuards();
    db.prepare('DELETE FROM audit_events WHERE seq = 2').run();
    expect(log.verify()).toEqual({ ok: false, events: 4, brokenAt: 2 });
  });

  it('detects a detail that is no longer JSON', () => {
    recordFive();
    dropGuards();
    db.prepare("UPDATE audit_events SET detail = 'oops' WHERE seq = 1").run();
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 1 });
  });

  it('continues the chain across reopening the database file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-audit-'));
    try {
      const file = join(dir, 'a.sqlite');
      let fileDb = openDatabase(file);
      new SqliteAuditLog(fileDb, { now: () => T0 }).record({ actor: 'system', action: 'a.b', target: 'x', detail: {} });
      fileDb.close();
      fileDb = openDatabase(file);
      const reopened = new SqliteAuditLog(fileDb, { now: () => T0 + 1 });
      const second = reopened.record({ actor: 'system', action: 'a.c', target: 'x', detail: {} });
      expect(second.seq).toBe(2);
      expect(reopened.verify()).toEqual({ ok: true, events: 2 });
      fileDb.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
