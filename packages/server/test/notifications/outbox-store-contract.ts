/**
 * The contract of the outbox ports (OutboxWriter + OutboxStore, STYLE.md §2): one suite, run
 * against every implementation (SQLite now; PostgreSQL with the scale-out work). What the
 * dispatcher and the domains may rely on: an entry exists exactly when the caller's transaction
 * committed, once per idempotency key, fanned out to its subscribers; each endpoint's queue is in
 * enqueue order; marks change only pending deliveries; and all of it survives a reopen.
 */
import { describe, expect, it } from 'vitest';
import type { EndpointSubscription } from '../../src/notifications/notification-endpoint.ts';
import { NotificationError } from '../../src/notifications/notification-error.ts';
import type { OutboxEntry, OutboxStore, OutboxWriter } from '../../src/notifications/outbox.ts';
import { T0, incidentEntry } from './incident-entries.ts';

export interface OutboxUnderTest {
  store: OutboxStore;
  /** Runs `write` in one transaction of the implementation's database; a throw rolls it back and rejects. */
  transaction<T>(write: (writer: OutboxWriter) => T): Promise<T>;
  /** Closes and opens the outbox again on the same data. */
  reopen(): Promise<OutboxUnderTest>;
  close(): Promise<void>;
}

export interface ContractClock {
  now: () => number;
  set(ms: number): void;
}

export type OpenOutbox = (options: { endpoints: readonly EndpointSubscription[]; clock: ContractClock }) => Promise<OutboxUnderTest>;

export const CONTRACT_ENDPOINTS: readonly EndpointSubscription[] = [
  { id: 'everything', format: 'generic' },
  { id: 'incidents-only', format: 'generic', topics: ['incident'] },
  { id: 'pager', format: 'pagerduty' },
  { id: 'audit-only', format: 'generic', topics: ['audit'] },
];

function clock(): ContractClock {
  let t = T0;
  return { now: () => t, set: (ms) => { t = ms; } };
}

export function describeOutboxStoreContract(name: string, open: OpenOutbox): void {
  describe(`${name} (OutboxStore contract)`, () => {
    const openWith = async (endpoints = CONTRACT_ENDPOINTS) => {
      const c = clock();
      return { c, o: await open({ endpoints, clock: c }) };
    };

    it('fans an entry out to every endpoint subscribed to its topic, once each', async () => {
      const { o } = await openWith();
      try {
        expect(await o.transaction((w) => w.enqueue(incidentEntry(1)))).toBe(true);
        expect(await o.transaction((w) => w.enqueue({ topic: 'audit.anchor', idempotencyKey: 'audit:anchor:1', payload: { seq: 1 } }))).toBe(true);
        const keysOf = async (endpoint: string) => (await o.store.list({ endpointId: endpoint })).map((d) => d.idempotencyKey);
        expect(await keysOf('everything')).toEqual(['audit:anchor:1', 'incident:1:opened']);
        expect(await keysOf('incidents-only')).toEqual(['incident:1:opened']);
        // PagerDuty events describe incidents only.
        expect(await keysOf('pager')).toEqual(['incident:1:opened']);
        expect(await keysOf('audit-only')).toEqual(['audit:anchor:1']);
        expect((await o.store.stats()).entries).toBe(2);
      } finally {
        await o.close();
      }
    });

    it('ignores a second entry with the same idempotency key, keeping the first payload', async () => {
      const { o } = await openWith();
      try {
        expect(await o.transaction((w) => w.enqueue(incidentEntry(1)))).toBe(true);
        expect(await o.transaction((w) => w.enqueue({ ...incidentEntry(1), payload: { changed: true } }))).toBe(false);
        expect(await o.transaction((w) => [w.enqueue(incidentEntry(2)), w.enqueue(incidentEntry(2))])).toEqual([true, false]);
        expect((await o.store.headOf('everything'))?.payload).toEqual(incidentEntry(1).payload);
        expect(await o.store.list({ endpointId: 'everything' })).toHaveLength(2);
      } finally {
        await o.close();
      }
    });

    it('keeps nothing of an entry whose transaction rolled back, and takes its key again later', async () => {
      const { o } = await openWith();
      try {
        await expect(o.transaction((w) => {
          w.enqueue(incidentEntry(1));
          throw new Error('the domain write failed');
        })).rejects.toThrow('the domain write failed');
        expect(await o.store.headOf('everything')).toBeUndefined();
        expect(await o.store.stats()).toEqual({ entries: 0, endpoints: [] });
        expect(await o.transaction((w) => w.enqueue(incidentEntry(1)))).toBe(true);
      } finally {
        await o.close();
      }
    });

    it('makes a new delivery due at once, stamped with the enqueue time', async () => {
      const { c, o } = await openWith();
      try {
        c.set(T0 + 5_000);
        await o.transaction((w) => w.enqueue(incidentEntry(7)));
        expect(await o.store.headOf('pager')).toEqual({
          id: expect.any(Number), endpointId: 'pager', topic: 'incident.opened', idempotencyKey: 'incident:7:opened',
          payload: incidentEntry(7).payload, enqueuedAt: T0 + 5_000, attempts: 0, nextAttemptAt: T0 + 5_000,
        });
      } finally {
        await o.close();
      }
    });

    it('keeps each endpoint in enqueue order: a failing head holds back the deliveries behind it', async () => {
      const { o } = await openWith();
      try {
        await o.transaction((w) => { for (const id of [1, 2, 3]) w.enqueue(incidentEntry(id)); });
        const first = (await o.store.headOf('everything'))!;
        expect(first.idempotencyKey).toBe('incident:1:opened');
        expect(await o.store.markFailed(first.id, { at: T0, reason: 'HTTP 500', status: 500, nextAttemptAt: T0 + 1_000 })).toBe(true);
        expect(await o.store.headOf('everything')).toMatchObject({ id: first.id, attempts: 1, nextAttemptAt: T0 + 1_000 });
        // Another endpoint's queue does not wait for this one.
        expect(await o.store.markDelivered((await o.store.headOf('pager'))!.id, { at: T0, status: 202 })).toBe(true);
        expect((await o.store.headOf('pager'))?.idempotencyKey).toBe('incident:2:opened');
        expect(await o.store.markDelivered(first.id, { at: T0 + 1_000, status: 200 })).toBe(true);
        expect((await o.store.headOf('everything'))?.idempotencyKey).toBe('incident:2:opened');
      } finally {
        await o.close();
      }
    });

    it('records attempts and the last outcome for the operator', async () => {
      const { o } = await openWith([{ id: 'ops', format: 'generic' }]);
      try {
        await o.transaction((w) => w.enqueue(incidentEntry(1)));
        const d = (await o.store.headOf('ops'))!;
        await o.store.markFailed(d.id, { at: T0 + 10, reason: 'connect ECONNREFUSED 127.0.0.1:9', nextAttemptAt: T0 + 1_010 });
        await o.store.markFailed(d.id, { at: T0 + 1_010, reason: 'HTTP 503', status: 503, nextAttemptAt: T0 + 3_010 });
        expect(await o.store.list()).toEqual([{
          id: d.id, endpointId: 'ops', topic: 'incident.opened', idempotencyKey: 'incident:1:opened', state: 'pending', attempts: 2,
          enqueuedAt: T0, nextAttemptAt: T0 + 3_010, lastAttemptAt: T0 + 1_010, lastStatus: 503, lastError: 'HTTP 503', deliveredAt: null,
        }]);
        await o.store.markDelivered(d.id, { at: T0 + 3_010, status: 204 });
        expect((await o.store.list())[0]).toMatchObject({
          state: 'delivered', attempts: 3, nextAttemptAt: null, lastStatus: 204, lastError: null, deliveredAt: T0 + 3_010,
        });
      } finally {
        await o.close();
      }
    });

    it('dead-letters a delivery out of the queue, keeps it listed, and redrives it to its place', async () => {
      const { o } = await openWith([{ id: 'ops', format: 'generic' }]);
      try {
        await o.transaction((w) => { w.enqueue(incidentEntry(1)); w.enqueue(incidentEntry(2)); });
        const first = (await o.store.headOf('ops'))!;
        expect(await o.store.markDeadLettered(first.id, { at: T0, reason: 'HTTP 400: refused', status: 400 })).toBe(true);
        expect((await o.store.headOf('ops'))?.idempotencyKey).toBe('incident:2:opened');
        expect(await o.store.list({ state: 'dead' })).toMatchObject([{ id: first.id, attempts: 1, lastStatus: 400, nextAttemptAt: null }]);
        expect(await o.store.stats()).toEqual({
          entries: 2, endpoints: [{ endpointId: 'ops', pending: 1, delivered: 0, deadLettered: 1, oldestPendingAt: T0 }],
        });
        expect(await o.store.redrive(first.id, T0 + 60_000)).toBe(true);
        expect(await o.store.redrive(first.id, T0 + 60_000)).toBe(false);
        expect(await o.store.headOf('ops')).toMatchObject({ id: first.id, attempts: 0, nextAttemptAt: T0 + 60_000 });
      } finally {
        await o.close();
      }
    });

    it('changes only pending deliveries: a late or repeated mark is refused', async () => {
      const { o } = await openWith([{ id: 'ops', format: 'generic' }]);
      try {
        await o.transaction((w) => w.enqueue(incidentEntry(1)));
        const d = (await o.store.headOf('ops'))!;
        expect(await o.store.markDelivered(d.id, { at: T0, status: 200 })).toBe(true);
        expect(await o.store.markDelivered(d.id, { at: T0 + 1, status: 200 })).toBe(false);
        expect(await o.store.markFailed(d.id, { at: T0 + 1, reason: 'HTTP 500', nextAttemptAt: T0 + 2 })).toBe(false);
        expect(await o.store.markDeadLettered(d.id, { at: T0 + 1, reason: 'HTTP 500' })).toBe(false);
        expect(await o.store.redrive(d.id, T0 + 1)).toBe(false);
        expect(await o.store.list()).toMatchObject([{ state: 'delivered', attempts: 1, deliveredAt: T0 }]);
      } finally {
        await o.close();
      }
    });

    it('lists newest first, filtered by endpoint and state, in pages', async () => {
      const { o } = await openWith([{ id: 'a', format: 'generic' }, { id: 'b', format: 'generic' }]);
      try {
        await o.transaction((w) => { for (let id = 1; id <= 5; id++) w.enqueue(incidentEntry(id)); });
        const all = await o.store.list();
        expect(all).toHaveLength(10);
        expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort((x, y) => y - x));
        const page1 = await o.store.list({ endpointId: 'a', limit: 2 });
        expect(page1.map((d) => d.idempotencyKey)).toEqual(['incident:5:opened', 'incident:4:opened']);
        const page2 = await o.store.list({ endpointId: 'a', limit: 2, beforeId: page1[1]!.id });
        expect(page2.map((d) => d.idempotencyKey)).toEqual(['incident:3:opened', 'incident:2:opened']);
        await o.store.markDelivered((await o.store.headOf('b'))!.id, { at: T0, status: 200 });
        expect((await o.store.list({ state: 'delivered' })).map((d) => [d.endpointId, d.idempotencyKey])).toEqual([['b', 'incident:1:opened']]);
      } finally {
        await o.close();
      }
    });

    it('keeps entries, queues and attempts across a reopen', async () => {
      const { o } = await openWith();
      let reopened: OutboxUnderTest | undefined;
      try {
        await o.transaction((w) => { w.enqueue(incidentEntry(1)); w.enqueue(incidentEntry(2)); });
        const d = (await o.store.headOf('pager'))!;
        await o.store.markFailed(d.id, { at: T0, reason: 'HTTP 502', status: 502, nextAttemptAt: T0 + 4_000 });
        reopened = await o.reopen();
        expect(await reopened.store.headOf('pager')).toMatchObject({ id: d.id, attempts: 1, nextAttemptAt: T0 + 4_000, payload: incidentEntry(1).payload });
        expect((await reopened.store.headOf('incidents-only'))?.idempotencyKey).toBe('incident:1:opened');
        // The key is still taken after the restart.
        expect(await reopened.transaction((w) => w.enqueue(incidentEntry(1)))).toBe(false);
      } finally {
        await (reopened ?? o).close();
      }
    });

    it('refuses an entry that could not travel in a header or as JSON, before writing anything', async () => {
      const { o } = await openWith();
      try {
        const refused = (entry: OutboxEntry) => o.transaction((w) => w.enqueue(entry));
        await expect(refused({ ...incidentEntry(1), idempotencyKey: 'incident 1 "opened"' })).rejects.toMatchObject({ code: 'entry_invalid' });
        await expect(refused({ ...incidentEntry(1), idempotencyKey: 'x'.repeat(256) })).rejects.toBeInstanceOf(NotificationError);
        await expect(refused({ ...incidentEntry(1), topic: 'Incident Opened' })).rejects.toMatchObject({ code: 'entry_invalid' });
        await expect(refused({ ...incidentEntry(1), payload: [] as unknown as Record<string, unknown> })).rejects.toMatchObject({ code: 'entry_invalid' });
        expect((await o.store.stats()).entries).toBe(0);
      } finally {
        await o.close();
      }
    });
  });
}
