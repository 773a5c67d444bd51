/**
 * The contract of the AuditLog port (STYLE.md §2), on every engine: one keyed chain however many
 * writers append to it, pages in sequence order, verification that says what an attacker with the
 * database changed and where, and events that commit or vanish with the unit of work they record.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlExecutor } from '../../src/db/sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { openAuditLog } from '../../src/audit/open-audit-log.ts';
import { GENESIS_HASH, auditEventHash, keyedEventHash } from '../../src/audit/event-hash.ts';
import { auditKeyFromBytes } from '../../src/audit/audit-key.ts';
import { canonicalJson } from '../../src/audit/canonical-json.ts';
import type { AuditConfig } from '../../src/config/config.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';

const T0 = 1_750_000_000_000;
const KEY_BYTES = Buffer.alloc(32, 0x5a);
const key = auditKeyFromBytes(KEY_BYTES);

const intact = (events: number) => ({ ok: true, events, keyedFromSeq: 1, problems: [], anchors: { checked: 0 } });

interface Row { seq: number; at: number; actor: string; action: string; target: string; detail: string; prev_hash: string; hash: string }

describe.each(SQL_ENGINES)('AuditLog on %s', (engine) => {
  let t: TestDatabase;
  let log: SqlAuditLog;
  let clock: number;
  const openLog = (exec: SqlExecutor, k = key) => SqlAuditLog.open(exec, { engine, key: k, now: () => clock });

  beforeEach(async () => {
    clock = T0;
    t = await createTestDatabase(engine, 'audit');
    await migrateServerDatabase(t.database);
    log = await openLog(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });

  async function recordFive(): Promise<void> {
    for (let i = 1; i <= 5; i++) {
      await log.record({ actor: 'token:0123456789abcdef', action: 'device.claim', target: `device:${i}`, detail: { group: 'g1', n: i } });
      clock += 1000;
    }
  }

  /** What an attacker with a database shell does first: remove the append-only guard. */
  async function dropGuards(): Promise<void> {
    const statements = engine === 'postgres'
      ? ['DROP TRIGGER audit_events_no_update ON audit_events', 'DROP TRIGGER audit_events_no_truncate ON audit_events']
      : ['DROP TRIGGER audit_events_no_update', 'DROP TRIGGER audit_events_no_delete'];
    for (const s of statements) await sql.raw(s).execute(t.database.db);
  }

  const raw = (text: string) => sql.raw(text).execute(t.database.db);
  const rows = async () => (await t.database.db.selectFrom('audit_events').selectAll().orderBy('seq').execute()) as Row[];

  /** Recomputes every link and hash from `fromSeq` on with `hash`, as the outside review's script did. */
  async function rechain(fromSeq: number, hash: (content: string) => string): Promise<void> {
    let prev = GENESIS_HASH;
    for (const r of await rows()) {
      if (r.seq < fromSeq) { prev = r.hash; continue; }
      const h = hash(canonicalJson({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, target: r.target, detail: JSON.parse(r.detail) as unknown, prevHash: prev }));
      await t.database.db.updateTable('audit_events').set({ prev_hash: prev, hash: h }).where('seq', '=', r.seq).execute();
      prev = h;
    }
  }

  describe('record and list', () => {
    it('chains events from a genesis of 64 zeros, each hash an HMAC under the key covering the previous one', async () => {
      await recordFive();
      const events = await log.list({});
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(events[0]!.prevHash).toBe(GENESIS_HASH);
      for (let i = 1; i < events.length; i++) expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
      const first = events[0]!;
      const content = canonicalJson({
        seq: 1, at: T0, actor: first.actor, action: first.action, target: first.target, detail: first.detail, prevHash: GENESIS_HASH,
      });
      expect(first.hash).toBe(createHmac('sha256', KEY_BYTES).update(`shellguard/audit-event/v1\n${content}`).digest('hex'));
      expect(keyedEventHash(key, first)).toBe(first.hash);
      // Not the unkeyed hash anyone could recompute.
      expect(first.hash).not.toBe(createHash('sha256').update(content).digest('hex'));
      expect(await log.verify()).toEqual(intact(5));
    });

    it('returns the stored event from record, with the injected time and the detail in canonical form', async () => {
      const e = await log.record({ actor: 'system', action: 'x.y', target: 't', detail: { b: 2, a: { d: 1, c: [1, 2] } } });
      expect(e).toMatchObject({ seq: 1, at: T0, detail: { a: { c: [1, 2], d: 1 }, b: 2 } });
      expect((await log.list({}))[0]).toEqual(e);
      expect((await rows())[0]!.detail).toBe('{"a":{"c":[1,2],"d":1},"b":2}');
    });

    it('pages by afterSeq and limit, and filters by target', async () => {
      await recordFive();
      expect((await log.list({ afterSeq: 2, limit: 2 })).map((e) => e.seq)).toEqual([3, 4]);
      expect((await log.list({ afterSeq: 4, limit: 2 })).map((e) => e.seq)).toEqual([5]);
      expect((await log.list({ target: 'device:4' })).map((e) => e.seq)).toEqual([4]);
      expect(await log.list({ limit: 100_000 })).toHaveLength(5);
      expect(await log.list({ limit: 0 })).toHaveLength(1);
    });

    it('pages newest first: the newest events, then those before a sequence number, of one target too', async () => {
      await recordFive();
      expect((await log.list({ newestFirst: true, limit: 2 })).map((e) => e.seq)).toEqual([5, 4]);
      expect((await log.list({ newestFirst: true, beforeSeq: 4, limit: 2 })).map((e) => e.seq)).toEqual([3, 2]);
      expect((await log.list({ newestFirst: true, beforeSeq: 2 })).map((e) => e.seq)).toEqual([1]);
      expect(await log.list({ newestFirst: true, beforeSeq: 1 })).toEqual([]);
      expect((await log.list({ newestFirst: true, target: 'device:4' })).map((e) => e.seq)).toEqual([4]);
      expect(await log.list({ newestFirst: true, beforeSeq: 4, target: 'device:4' })).toEqual([]);
    });

    it('filters by exact actor and by action prefix, case and % and _ taken literally', async () => {
      await recordFive();
      await log.record({ actor: 'user:alice', action: 'alarm.acknowledge', target: 'alarm:1', detail: {} });
      await log.record({ actor: 'user:alice_x', action: 'alarm_%weird', target: 'alarm:2', detail: {} });
      await log.record({ actor: 'user:Alice', action: 'Alarm.shelve', target: 'alarm:3', detail: {} });
      expect((await log.list({ actor: 'user:alice' })).map((e) => e.seq)).toEqual([6]);
      expect((await log.list({ actionPrefix: 'alarm.' })).map((e) => e.seq)).toEqual([6]);
      expect((await log.list({ actionPrefix: 'alarm_%' })).map((e) => e.seq)).toEqual([7]);
      expect((await log.list({ actionPrefix: 'device.', newestFirst: true, limit: 2 })).map((e) => e.seq)).toEqual([5, 4]);
      expect(await log.list({ actionPrefix: '%' })).toEqual([]);
    });

    it('refuses UPDATE and DELETE of events and of the keying record through the database', async () => {
      await recordFive();
      await expect(raw("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2")).rejects.toThrow(/append-only/);
      await expect(raw('DELETE FROM audit_events WHERE seq = 5')).rejects.toThrow(/append-only/);
      await expect(raw('UPDATE audit_chain SET keyed_from_seq = 99')).rejects.toThrow(/written once/);
      await expect(raw('DELETE FROM audit_chain')).rejects.toThrow(/written once/);
      if (engine === 'postgres') await expect(raw('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
      expect(await log.verify()).toEqual(intact(5));
    });
  });

  describe('verify', () => {
    it('detects an edited detail at the edited event', async () => {
      await recordFive();
      await dropGuards();
      await raw(`UPDATE audit_events SET detail = '{"group":"g2","n":3}' WHERE seq = 3`);
      expect(await log.verify()).toMatchObject({ ok: false, events: 5, brokenAt: 3, problems: [{ code: 'event_edited', seq: 3 }] });
    });

    it('detects an edited time, and a detail that is no longer JSON', async () => {
      await recordFive();
      await dropGuards();
      await raw('UPDATE audit_events SET at = at + 1 WHERE seq = 4');
      await raw("UPDATE audit_events SET detail = 'oops' WHERE seq = 1");
      expect((await log.verify()).problems.map((p) => [p.code, p.seq])).toEqual([['event_edited', 1], ['event_edited', 4]]);
    });

    it('detects a deleted event at the missing sequence number', async () => {
      await recordFive();
      await dropGuards();
      await raw('DELETE FROM audit_events WHERE seq = 2');
      expect(await log.verify()).toMatchObject({ ok: false, events: 4, brokenAt: 2, problems: [{ code: 'event_missing', seq: 2 }] });
    });

    it('detects an event re-hashed with the unkeyed algorithm at that event, and the broken link after it', async () => {
      await recordFive();
      await dropGuards();
      const e2 = (await log.list({ afterSeq: 1, limit: 1 }))[0]!;
      const forged = { ...e2, actor: 'token:ffffffffffffffff' };
      await t.database.db.updateTable('audit_events').set({ actor: forged.actor, hash: auditEventHash(forged) }).where('seq', '=', 2).execute();
      expect((await log.verify()).problems.map((p) => [p.code, p.seq])).toEqual([['event_edited', 2], ['chain_broken', 3]]);
    });

    it('detects an edit re-chained forward, with SHA-256 or an HMAC under a guessed key: every link holds, no hash does', async () => {
      await recordFive();
      await dropGuards();
      await raw("UPDATE audit_events SET target = 'device:elsewhere' WHERE seq = 3");
      await rechain(3, (c) => createHash('sha256').update(c).digest('hex'));
      let v = await log.verify();
      expect(v.problems).toEqual([expect.objectContaining({ code: 'event_edited', seq: 3, lastSeq: 5 })]);
      await rechain(3, (c) => createHmac('sha256', Buffer.alloc(32)).update(`shellguard/audit-event/v1\n${c}`).digest('hex'));
      v = await log.verify();
      expect(v).toMatchObject({ ok: false, brokenAt: 3, problems: [{ code: 'event_edited', seq: 3, lastSeq: 5 }] });
    });

    it('detects a truncated tail through the anchors', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sg-audit-contract-'));
      const config: AuditConfig = { keyFile: path.join(dir, 'audit.key'), anchorFile: path.join(dir, 'anchors.log'), anchorEveryEvents: 1000, anchorIntervalMs: 60_000 };
      const other = await createTestDatabase(engine, 'audit_anchor');
      try {
        await migrateServerDatabase(other.database);
        const opened = await openAuditLog(other.database, config, { clock: new ManualClock(T0) });
        for (let i = 1; i <= 6; i++) await opened.log.record({ actor: 'system', action: 'device.claim', target: `device:${i}`, detail: { i } });
        await opened.anchoring.anchorNow('events');
        await opened.close();
        const db = other.database.db;
        const guard = engine === 'postgres' ? ['DROP TRIGGER audit_events_no_update ON audit_events'] : ['DROP TRIGGER audit_events_no_delete', 'DROP TRIGGER audit_events_no_update'];
        for (const s of guard) await sql.raw(s).execute(db);
        await sql.raw('DELETE FROM audit_events WHERE seq > 4').execute(db);
        const reopened = await openAuditLog(other.database, config, { clock: new ManualClock(T0 + 1) });
        const v = await reopened.log.verify();
        await reopened.close();
        expect(v).toMatchObject({ ok: false, events: 4, brokenAt: 5 });
        expect(v.problems.find((p) => p.code === 'truncated')).toMatchObject({ seq: 5, lastSeq: 6 });
      } finally {
        await other.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('keying', () => {
    it('continues the chain from another handle with the same key, and refuses another key', async () => {
      await recordFive();
      const again = await openLog(t.reopen().db);
      expect((await again.record({ actor: 'system', action: 'a.c', target: 'x', detail: {} })).seq).toBe(6);
      expect(await again.verify()).toEqual(intact(6));
      await expect(openLog(t.database.db, auditKeyFromBytes(Buffer.alloc(32, 1)))).rejects.toMatchObject({ code: 'audit_key_mismatch' });
    });
  });

  describe('in a unit of work', () => {
    const uow = () => sqlUnitOfWork(t.database, (tx) => ({ audit: log.recorderIn(tx) }));

    it('commits an event with the unit of work it records', async () => {
      await log.record({ actor: 'system', action: 'a.before', target: 'x', detail: {} });
      const recorded = await uow().run(async ({ audit }) => audit.record({ actor: 'system', action: 'a.inside', target: 'x', detail: {} }));
      expect(recorded.seq).toBe(2);
      expect((await log.list({})).map((e) => e.action)).toEqual(['a.before', 'a.inside']);
      expect(await log.verify()).toEqual(intact(2));
    });

    it('leaves no event, and no head to build on, when the unit of work rolls back', async () => {
      await log.record({ actor: 'system', action: 'a.kept', target: 'x', detail: {} });
      await expect(uow().run(async ({ audit }) => {
        await audit.record({ actor: 'system', action: 'a.lost', target: 'x', detail: {} });
        await audit.record({ actor: 'system', action: 'a.lost.too', target: 'x', detail: {} });
        throw new Error('the change it records failed');
      })).rejects.toThrow('the change it records failed');
      expect((await log.list({})).map((e) => e.action)).toEqual(['a.kept']);
      expect((await log.head()).seq).toBe(1);
      const next = await log.record({ actor: 'system', action: 'a.next', target: 'x', detail: {} });
      expect(next).toMatchObject({ seq: 2, prevHash: (await log.list({}))[0]!.hash });
      expect(await log.verify()).toEqual(intact(2));
    });
  });

  // SQLite is one server's file behind one connection's write lock; replicas share PostgreSQL only.
  describe.runIf(engine === 'postgres')('several writers on one PostgreSQL', () => {
    it('forms one unbroken chain from concurrent records on two handles', async () => {
      const second = await openLog(t.reopen().db);
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        writes.push(log.record({ actor: 'replica:a', action: 'a.write', target: 'x', detail: { i } }));
        writes.push(second.record({ actor: 'replica:b', action: 'b.write', target: 'x', detail: { i } }));
      }
      await Promise.all(writes);
      const events = await log.list({ limit: 1000 });
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(new Set(events.map((e) => e.actor))).toEqual(new Set(['replica:a', 'replica:b']));
      expect(await log.verify()).toEqual(intact(40));
    });

    it('makes a writer wait for an open unit of work, then build on what it committed, not on what it rolled back', async () => {
      const second = await openLog(t.reopen().db);
      await log.record({ actor: 'system', action: 'a.first', target: 'x', detail: {} });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let recordedInside!: () => void;
      const inside = new Promise<void>((resolve) => { recordedInside = resolve; });
      const held = sqlUnitOfWork(t.database, (tx) => ({ audit: log.recorderIn(tx) })).run(async ({ audit }) => {
        await audit.record({ actor: 'system', action: 'a.rolled-back', target: 'x', detail: {} });
        recordedInside();
        await gate;
        throw new Error('rolled back');
      });
      await inside;
      // Only what committed is the head an anchor may vouch for.
      expect((await log.head()).seq).toBe(1);
      const waiting = second.record({ actor: 'replica:b', action: 'b.after', target: 'x', detail: {} });
      release();
      await expect(held).rejects.toThrow('rolled back');
      expect(await waiting).toMatchObject({ seq: 2, action: 'b.after' });
      expect(await log.verify()).toEqual(intact(2));
    });
  });
});
