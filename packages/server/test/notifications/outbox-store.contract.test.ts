/**
 * The contract of the outbox ports (OutboxWriter + OutboxStore, STYLE.md §2), on every engine. What
 * the dispatcher and the domains may rely on: an entry exists exactly when the caller's transaction
 * committed, once per idempotency key, fanned out to its subscribers; each endpoint's queue is in
 * enqueue order; marks change only pending deliveries; a claim is held by one dispatcher at a
 * time; and all of it survives a reopen.
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import type { EndpointSubscription } from '../../src/notifications/notification-endpoint.ts';
import { NotificationError } from '../../src/notifications/notification-error.ts';
import type { OutboxEntry, OutboxWriter } from '../../src/notifications/outbox.ts';
import { SqlOutboxStore } from '../../src/notifications/sql-outbox-store.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { T0, incidentEntry } from './incident-entries.ts';

const ENDPOINTS: readonly EndpointSubscription[] = [
  { id: 'everything', format: 'generic' },
  { id: 'incidents-only', format: 'generic', topics: ['incident'] },
  { id: 'pager', format: 'pagerduty' },
  { id: 'audit-only', format: 'generic', topics: ['audit'] },
];
const OPS: readonly EndpointSubscription[] = [{ id: 'ops', format: 'generic' }];

describe.each(SQL_ENGINES)('OutboxStore on %s', (engine) => {
  let t: TestDatabase;
  let clock: number;
  const open = (endpoints: readonly EndpointSubscription[] = ENDPOINTS, database: SqlDatabase = t.database) =>
    new SqlOutboxStore(database.db, { now: () => clock, endpoints });
  /** Runs `write` with a writer bound to one transaction; a throw rolls it back and rejects. */
  const transaction = <T>(outbox: SqlOutboxStore, write: (w: OutboxWriter) => Promise<T>) =>
    sqlUnitOfWork(t.database, (tx) => outbox.writerIn(tx)).run(write);

  beforeEach(async () => {
    clock = T0;
    t = await createTestDatabase(engine, 'outbox');
    await migrateServerDatabase(t.database);
  });
  afterEach(async () => { await t.destroy(); });

  describe('enqueue', () => {
    it('fans an entry out to every endpoint subscribed to its topic, once each', async () => {
      const o = open();
      expect(await transaction(o, (w) => w.enqueue(incidentEntry(1)))).toBe(true);
      expect(await o.enqueue({ topic: 'audit.anchor', idempotencyKey: 'audit:anchor:1', payload: { seq: 1 } })).toBe(true);
      const keysOf = async (endpoint: string) => (await o.list({ endpointId: endpoint })).map((d) => d.idempotencyKey);
      expect(await keysOf('everything')).toEqual(['audit:anchor:1', 'incident:1:opened']);
      expect(await keysOf('incidents-only')).toEqual(['incident:1:opened']);
      // PagerDuty events describe incidents only.
      expect(await keysOf('pager')).toEqual(['incident:1:opened']);
      expect(await keysOf('audit-only')).toEqual(['audit:anchor:1']);
      expect((await o.stats()).entries).toBe(2);
    });

    it('ignores a second entry with the same idempotency key, keeping the first payload', async () => {
      const o = open();
      expect(await o.enqueue(incidentEntry(1))).toBe(true);
      expect(await o.enqueue({ ...incidentEntry(1), payload: { changed: true } })).toBe(false);
      expect(await transaction(o, async (w) => [await w.enqueue(incidentEntry(2)), await w.enqueue(incidentEntry(2))])).toEqual([true, false]);
      expect((await o.headOf('everything'))?.payload).toEqual(incidentEntry(1).payload);
      expect(await o.list({ endpointId: 'everything' })).toHaveLength(2);
    });

    it('keeps nothing of an entry whose transaction rolled back, and takes its key again later', async () => {
      const o = open();
      await expect(transaction(o, async (w) => {
        await w.enqueue(incidentEntry(1));
        throw new Error('the domain write failed');
      })).rejects.toThrow('the domain write failed');
      expect(await o.headOf('everything')).toBeUndefined();
      expect(await o.stats()).toEqual({ entries: 0, endpoints: [] });
      expect(await o.enqueue(incidentEntry(1))).toBe(true);
    });

    it('commits the entry with the domain write of the same unit of work, and rolls both back together', async () => {
      const o = open(OPS);
      await sql.raw('CREATE TABLE panel_events (id INTEGER PRIMARY KEY, what TEXT NOT NULL)').execute(t.database.db);
      const uow = sqlUnitOfWork(t.database, (tx) => ({
        panelEvent: async (id: number) => { await tx.insertInto('panel_events').values({ id, what: 'wrong panel opened' }).execute(); },
        outbox: o.writerIn(tx),
      }));
      const openIncident = (id: number, fail: boolean) => uow.run(async (s) => {
        await s.panelEvent(id);
        await s.outbox.enqueue(incidentEntry(id));
        if (fail) throw new Error('step 2 failed');
      });
      await expect(openIncident(1, true)).rejects.toThrow('step 2 failed');
      expect(await t.database.db.selectFrom('panel_events').selectAll().execute()).toEqual([]);
      expect(await o.headOf('ops')).toBeUndefined();
      await openIncident(1, false);
      expect(await t.database.db.selectFrom('panel_events').select('what').execute()).toEqual([{ what: 'wrong panel opened' }]);
      expect((await o.headOf('ops'))?.idempotencyKey).toBe('incident:1:opened');
    });

    it('never shows the dispatcher an entry whose transaction is still open', async () => {
      const o = open(OPS);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let enqueued!: () => void;
      const inside = new Promise<void>((resolve) => { enqueued = resolve; });
      const open_ = transaction(o, async (w) => {
        await w.enqueue(incidentEntry(1));
        enqueued();
        await gate;
        throw new Error('rolled back');
      });
      await inside;
      // PostgreSQL shows only what committed; SQLite's read waits for the transaction to end.
      const reading = o.headOf('ops');
      release();
      await expect(open_).rejects.toThrow('rolled back');
      expect(await reading).toBeUndefined();
    });

    it('makes a new delivery due at once, stamped with the enqueue time', async () => {
      const o = open();
      clock = T0 + 5_000;
      await o.enqueue(incidentEntry(7));
      expect(await o.headOf('pager')).toEqual({
        id: expect.any(Number), endpointId: 'pager', topic: 'incident.opened', idempotencyKey: 'incident:7:opened',
        payload: incidentEntry(7).payload, enqueuedAt: T0 + 5_000, attempts: 0, nextAttemptAt: T0 + 5_000,
      });
    });

    it('refuses an entry that could not travel in a header or as JSON, before writing anything', async () => {
      const o = open();
      const refused = (entry: OutboxEntry) => transaction(o, (w) => w.enqueue(entry));
      await expect(refused({ ...incidentEntry(1), idempotencyKey: 'incident 1 "opened"' })).rejects.toMatchObject({ code: 'entry_invalid' });
      await expect(refused({ ...incidentEntry(1), idempotencyKey: 'x'.repeat(256) })).rejects.toBeInstanceOf(NotificationError);
      await expect(refused({ ...incidentEntry(1), topic: 'Incident Opened' })).rejects.toMatchObject({ code: 'entry_invalid' });
      await expect(refused({ ...incidentEntry(1), payload: [] as unknown as Record<string, unknown> })).rejects.toMatchObject({ code: 'entry_invalid' });
      expect((await o.stats()).entries).toBe(0);
    });
  });

  describe('queues and marks', () => {
    it('keeps each endpoint in enqueue order: a failing head holds back the deliveries behind it', async () => {
      const o = open();
      await transaction(o, async (w) => { for (const id of [1, 2, 3]) await w.enqueue(incidentEntry(id)); });
      const first = (await o.headOf('everything'))!;
      expect(first.idempotencyKey).toBe('incident:1:opened');
      expect(await o.markFailed(first.id, { at: T0, reason: 'HTTP 500', status: 500, nextAttemptAt: T0 + 1_000 })).toBe(true);
      expect(await o.headOf('everything')).toMatchObject({ id: first.id, attempts: 1, nextAttemptAt: T0 + 1_000 });
      // Another endpoint's queue does not wait for this one.
      expect(await o.markDelivered((await o.headOf('pager'))!.id, { at: T0, status: 202 })).toBe(true);
      expect((await o.headOf('pager'))?.idempotencyKey).toBe('incident:2:opened');
      expect(await o.markDelivered(first.id, { at: T0 + 1_000, status: 200 })).toBe(true);
      expect((await o.headOf('everything'))?.idempotencyKey).toBe('incident:2:opened');
    });

    it('records attempts and the last outcome for the operator', async () => {
      const o = open(OPS);
      await o.enqueue(incidentEntry(1));
      const d = (await o.headOf('ops'))!;
      await o.markFailed(d.id, { at: T0 + 10, reason: 'connect ECONNREFUSED 127.0.0.1:9', nextAttemptAt: T0 + 1_010 });
      await o.markFailed(d.id, { at: T0 + 1_010, reason: 'HTTP 503', status: 503, nextAttemptAt: T0 + 3_010 });
      expect(await o.list()).toEqual([{
        id: d.id, endpointId: 'ops', topic: 'incident.opened', idempotencyKey: 'incident:1:opened', state: 'pending', attempts: 2,
        enqueuedAt: T0, nextAttemptAt: T0 + 3_010, lastAttemptAt: T0 + 1_010, lastStatus: 503, lastError: 'HTTP 503', deliveredAt: null,
      }]);
      await o.markDelivered(d.id, { at: T0 + 3_010, status: 204 });
      expect((await o.list())[0]).toMatchObject({
        state: 'delivered', attempts: 3, nextAttemptAt: null, lastStatus: 204, lastError: null, deliveredAt: T0 + 3_010,
      });
      await o.enqueue(incidentEntry(2));
      await o.markFailed((await o.headOf('ops'))!.id, { at: T0, reason: `HTTP 500: ${'x'.repeat(2_000)}`, nextAttemptAt: T0 + 1 });
      expect((await o.list({ state: 'pending' }))[0]!.lastError).toHaveLength(500);
    });

    it('dead-letters a delivery out of the queue, keeps it listed, and redrives it to its place', async () => {
      const o = open(OPS);
      await transaction(o, async (w) => { await w.enqueue(incidentEntry(1)); await w.enqueue(incidentEntry(2)); });
      const first = (await o.headOf('ops'))!;
      expect(await o.markDeadLettered(first.id, { at: T0, reason: 'HTTP 400: refused', status: 400 })).toBe(true);
      expect((await o.headOf('ops'))?.idempotencyKey).toBe('incident:2:opened');
      expect(await o.list({ state: 'dead' })).toMatchObject([{ id: first.id, attempts: 1, lastStatus: 400, nextAttemptAt: null }]);
      expect(await o.stats()).toEqual({
        entries: 2, endpoints: [{ endpointId: 'ops', pending: 1, delivered: 0, deadLettered: 1, oldestPendingAt: T0 }],
      });
      expect(await o.redrive(first.id, T0 + 60_000)).toBe(true);
      expect(await o.redrive(first.id, T0 + 60_000)).toBe(false);
      expect(await o.headOf('ops')).toMatchObject({ id: first.id, attempts: 0, nextAttemptAt: T0 + 60_000 });
    });

    it('changes only pending deliveries: a late or repeated mark is refused', async () => {
      const o = open(OPS);
      await o.enqueue(incidentEntry(1));
      const d = (await o.headOf('ops'))!;
      expect(await o.markDelivered(d.id, { at: T0, status: 200 })).toBe(true);
      expect(await o.markDelivered(d.id, { at: T0 + 1, status: 200 })).toBe(false);
      expect(await o.markFailed(d.id, { at: T0 + 1, reason: 'HTTP 500', nextAttemptAt: T0 + 2 })).toBe(false);
      expect(await o.markDeadLettered(d.id, { at: T0 + 1, reason: 'HTTP 500' })).toBe(false);
      expect(await o.redrive(d.id, T0 + 1)).toBe(false);
      expect(await o.claim(d.id, { claimant: 'a', at: T0 + 1, leaseMs: 1_000 })).toBe(false);
      expect(await o.list()).toMatchObject([{ state: 'delivered', attempts: 1, deliveredAt: T0 }]);
    });

    it('counts every endpoint in the stats, oldest pending first per endpoint, ordered by endpoint', async () => {
      const o = open([{ id: 'b', format: 'generic' }, { id: 'a', format: 'generic' }]);
      await o.enqueue(incidentEntry(1));
      clock = T0 + 10;
      await o.enqueue(incidentEntry(2));
      await o.markDelivered((await o.headOf('a'))!.id, { at: clock, status: 200 });
      expect(await o.stats()).toEqual({
        entries: 2,
        endpoints: [
          { endpointId: 'a', pending: 1, delivered: 1, deadLettered: 0, oldestPendingAt: T0 + 10 },
          { endpointId: 'b', pending: 2, delivered: 0, deadLettered: 0, oldestPendingAt: T0 },
        ],
      });
    });

    it('lists newest first, filtered by endpoint and state, in pages', async () => {
      const o = open([{ id: 'a', format: 'generic' }, { id: 'b', format: 'generic' }]);
      await transaction(o, async (w) => { for (let id = 1; id <= 5; id++) await w.enqueue(incidentEntry(id)); });
      const all = await o.list();
      expect(all).toHaveLength(10);
      expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort((x, y) => y - x));
      const page1 = await o.list({ endpointId: 'a', limit: 2 });
      expect(page1.map((d) => d.idempotencyKey)).toEqual(['incident:5:opened', 'incident:4:opened']);
      const page2 = await o.list({ endpointId: 'a', limit: 2, beforeId: page1[1]!.id });
      expect(page2.map((d) => d.idempotencyKey)).toEqual(['incident:3:opened', 'incident:2:opened']);
      await o.markDelivered((await o.headOf('b'))!.id, { at: T0, status: 200 });
      expect((await o.list({ state: 'delivered' })).map((d) => [d.endpointId, d.idempotencyKey])).toEqual([['b', 'incident:1:opened']]);
    });

    it('keeps entries, queues and attempts across a reopen', async () => {
      const o = open();
      await transaction(o, async (w) => { await w.enqueue(incidentEntry(1)); await w.enqueue(incidentEntry(2)); });
      const d = (await o.headOf('pager'))!;
      await o.markFailed(d.id, { at: T0, reason: 'HTTP 502', status: 502, nextAttemptAt: T0 + 4_000 });
      const reopened = open(ENDPOINTS, t.reopen());
      expect(await reopened.headOf('pager')).toMatchObject({ id: d.id, attempts: 1, nextAttemptAt: T0 + 4_000, payload: incidentEntry(1).payload });
      expect((await reopened.headOf('incidents-only'))?.idempotencyKey).toBe('incident:1:opened');
      // The key is still taken after the restart.
      expect(await reopened.enqueue(incidentEntry(1))).toBe(false);
    });
  });

  describe('claims', () => {
    it('gives a pending delivery to one claimant until its lease ends, renews it for that claimant, and any mark ends it', async () => {
      const o = open(OPS);
      await o.enqueue(incidentEntry(1));
      const d = (await o.headOf('ops'))!;
      expect(await o.claim(d.id, { claimant: 'replica-a', at: T0, leaseMs: 30_000 })).toBe(true);
      expect(await o.headOf('ops')).toMatchObject({ id: d.id, claimedUntil: T0 + 30_000 });
      expect(await o.claim(d.id, { claimant: 'replica-b', at: T0 + 29_999, leaseMs: 30_000 })).toBe(false);
      expect(await o.claim(d.id, { claimant: 'replica-a', at: T0 + 10_000, leaseMs: 30_000 })).toBe(true);
      expect(await o.claim(d.id, { claimant: 'replica-b', at: T0 + 30_000, leaseMs: 30_000 })).toBe(false);
      // The lease ran out: another claimant may take it (the first one died mid-send).
      expect(await o.claim(d.id, { claimant: 'replica-b', at: T0 + 40_000, leaseMs: 30_000 })).toBe(true);
      // A late mark of the first claimant is refused; the holder's is taken and ends the claim.
      expect(await o.markFailed(d.id, { at: T0 + 40_001, reason: 'HTTP 500', nextAttemptAt: T0 + 41_000, claimant: 'replica-a' })).toBe(false);
      expect(await o.markFailed(d.id, { at: T0 + 40_001, reason: 'HTTP 500', nextAttemptAt: T0 + 41_000, claimant: 'replica-b' })).toBe(true);
      const after = (await o.headOf('ops'))!;
      expect(after).toMatchObject({ id: d.id, attempts: 1 });
      expect(after.claimedUntil).toBeUndefined();
      expect(await o.claim(d.id, { claimant: 'replica-a', at: T0 + 41_000, leaseMs: 30_000 })).toBe(true);
      expect(await o.markDelivered(d.id, { at: T0 + 41_001, status: 200, claimant: 'replica-a' })).toBe(true);
    });

    it('redrives a dead letter unclaimed', async () => {
      const o = open(OPS);
      await o.enqueue(incidentEntry(1));
      const d = (await o.headOf('ops'))!;
      await o.claim(d.id, { claimant: 'replica-a', at: T0, leaseMs: 30_000 });
      await o.markDeadLettered(d.id, { at: T0, reason: 'HTTP 400', status: 400, claimant: 'replica-a' });
      await o.redrive(d.id, T0 + 1);
      expect((await o.headOf('ops'))!.claimedUntil).toBeUndefined();
      expect(await o.claim(d.id, { claimant: 'replica-b', at: T0 + 2, leaseMs: 30_000 })).toBe(true);
    });

    it('never gives one delivery to two claimants at once, from two handles claiming together', async () => {
      const a = open(OPS);
      const b = open(OPS, t.reopen());
      await a.enqueue(incidentEntry(1));
      const d = (await a.headOf('ops'))!;
      for (let round = 0; round < 10; round++) {
        const at = T0 + round * 60_000;
        const results = await Promise.all([
          a.claim(d.id, { claimant: 'replica-a', at, leaseMs: 30_000 }),
          b.claim(d.id, { claimant: 'replica-b', at, leaseMs: 30_000 }),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });
  });

  it.runIf(engine === 'sqlite')('finds an endpoint\'s next delivery through the index of pending rows', () => {
    const plan = t.database.sqlite!.handle.prepare(`EXPLAIN QUERY PLAN SELECT d.id FROM outbox_deliveries d JOIN outbox_entries e ON e.id = d.entry_id
      WHERE d.endpoint_id = ? AND d.state = 'pending' ORDER BY d.id LIMIT 1`).all('ops') as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toContain('outbox_deliveries_queue');
  });
});
