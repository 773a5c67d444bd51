import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/alarms/webhook-notifier.ts';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import type { NotificationEndpoint } from '../../src/notifications/notification-endpoint.ts';
import type { OutboxEntry, OutboxStore, OutboxWriter } from '../../src/notifications/outbox.ts';
import { OutboxDispatcher, kickingWriter, type OutboxDeliveryFailure, type OutboxDispatcherOptions } from '../../src/notifications/outbox-dispatcher.ts';
import { deliveryIdOf } from '../../src/notifications/signed-delivery.ts';
import { httpWebhookTransport, type OutboxTransport } from '../../src/notifications/http-webhook-transport.ts';
import { SqlOutboxStore } from '../../src/notifications/sql-outbox-store.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { T0, incidentEntry } from './incident-entries.ts';
import { SECRET, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

/** Fake time: `clock` is what the dispatcher is given; `advance` runs the timers it passes. */
class FakeTime {
  readonly clock = new ManualClock(T0);
  get now(): number {
    return this.clock.now();
  }
  pendingTimers(): number {
    return this.clock.dueTimes().length;
  }
  advance(ms: number): void {
    this.clock.advance(ms);
  }
}

let dir: string;
let database: SqlDatabase;
let time: FakeTime;
let receiver: WebhookReceiver;
let dispatcher: OutboxDispatcher | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-dispatch-'));
  database = openSqliteSqlDatabase(join(dir, 'server.sqlite'));
  await migrateServerDatabase(database);
  time = new FakeTime();
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await dispatcher?.stop();
  dispatcher = undefined;
  await database.close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const generic = (id = 'ops', path = '/hooks/incidents'): NotificationEndpoint => ({ id, url: receiver.url(path), secret: SECRET, format: 'generic' });

/** Runs `write` with a writer bound to one transaction (a domain change and its notices); a throw rolls it back. */
const inTransaction = <T>(outbox: SqlOutboxStore, write: (w: OutboxWriter) => Promise<T>) =>
  sqlUnitOfWork(database, (tx) => outbox.writerIn(tx)).run(write);
/** Enqueues the entries in one transaction. */
const enqueueAll = (outbox: SqlOutboxStore, ...entries: OutboxEntry[]) =>
  inTransaction(outbox, async (w) => { for (const e of entries) await w.enqueue(e); });

function setup(endpoints: NotificationEndpoint[], extra: Partial<OutboxDispatcherOptions> = {}) {
  const outbox = new SqlOutboxStore(database.db, { now: () => time.now, endpoints });
  const failures: OutboxDeliveryFailure[] = [];
  dispatcher = new OutboxDispatcher({
    store: outbox, endpoints, clock: time.clock, random: () => 0, onDeliveryFailed: (f) => failures.push(f), ...extra,
  });
  dispatcher.start();
  const d = dispatcher;
  return {
    outbox, dispatcher: d, failures,
    async enqueue(...entries: OutboxEntry[]) {
      await enqueueAll(outbox, ...entries);
      d.kick();
      await d.idle();
    },
    /** Fake time passes; whatever came due has been sent and recorded when this resolves. */
    async advance(ms: number) {
      time.advance(ms);
      await d.idle();
    },
  };
}

/** A receiver's answer the test lets go of. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { open, opened };
}

describe('OutboxDispatcher', () => {
  it('delivers a generic body signed as the alarm webhooks are, with the Idempotency-Key and a stable delivery id', async () => {
    const { enqueue, outbox } = setup([generic()]);
    await enqueue(incidentEntry(12));
    expect(receiver.received).toHaveLength(1);
    const r = receiver.received[0]!;
    expect(r.signatureOk).toBe(true);
    const headers = { signature: String(r.headers['x-shellguard-signature']), timestamp: String(r.headers['x-shellguard-timestamp']) };
    expect(verifyWebhookSignature(SECRET, r.body, headers, time.now)).toEqual({ ok: true });
    expect(r.idempotencyKey).toBe('incident:12:opened');
    expect(r.deliveryId).toBe(deliveryIdOf('ops', 'incident:12:opened'));
    expect(r.deliveryId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json).toEqual({
      id: 'incident:12:opened', type: 'incident.opened', occurredAt: new Date(T0).toISOString(), timestamp: T0, data: incidentEntry(12).payload,
    });
    expect((await outbox.stats()).endpoints).toEqual([{ endpointId: 'ops', pending: 0, delivered: 1, deadLettered: 0, oldestPendingAt: null }]);
  });

  it('retries 5xx answers with exponential backoff and jitter, under the same keys and a fresh signature', async () => {
    receiver.answer = (_r, i) => [500, 503, 500][i] ?? 200;
    const { enqueue, advance, failures, outbox } = setup([generic()], { random: () => 0.5 });
    await enqueue(incidentEntry(1));
    // random() = 0.5 takes a quarter off each delay: 1 s, 2 s, 4 s become 750 ms, 1.5 s, 3 s.
    expect(failures.map((f) => [f.attempt, f.reason, f.final, f.nextAttemptAt! - T0])).toEqual([[1, 'HTTP 500', false, 750]]);
    await advance(749);
    expect(receiver.received).toHaveLength(1);
    await advance(1);
    expect(receiver.received).toHaveLength(2);
    await advance(1_500);
    await advance(3_000);
    expect(receiver.received).toHaveLength(4);
    expect(failures.map((f) => [f.attempt, f.status, f.nextAttemptAt! - T0])).toEqual([[1, 500, 750], [2, 503, 2_250], [3, 500, 5_250]]);
    expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
    expect(new Set(receiver.received.map((r) => `${r.idempotencyKey} ${r.deliveryId}`)).size).toBe(1);
    expect(receiver.received.map((r) => (r.json.timestamp as number) - T0)).toEqual([0, 750, 2_250, 5_250]);
    expect(await outbox.list()).toMatchObject([{ state: 'delivered', attempts: 4, lastStatus: 200 }]);
  });

  it('dead-letters after maxAttempts, then delivers what waited behind it', async () => {
    receiver.answer = (r) => (r.idempotencyKey === 'incident:1:opened' ? 500 : 200);
    const { enqueue, advance, failures, outbox } = setup([generic()], { maxAttempts: 3 });
    await enqueue(incidentEntry(1), incidentEntry(2));
    // Order per endpoint: entry 2 waits for entry 1's outcome.
    expect(receiver.received.map((r) => r.idempotencyKey)).toEqual(['incident:1:opened']);
    await advance(1_000);
    await advance(2_000);
    expect(receiver.received.map((r) => r.idempotencyKey)).toEqual(['incident:1:opened', 'incident:1:opened', 'incident:1:opened', 'incident:2:opened']);
    expect(failures.map((f) => [f.attempt, f.final])).toEqual([[1, false], [2, false], [3, true]]);
    expect(failures[2]).not.toHaveProperty('nextAttemptAt');
    expect(await outbox.list({ state: 'dead' })).toMatchObject([{ idempotencyKey: 'incident:1:opened', attempts: 3, lastStatus: 500, lastError: 'HTTP 500' }]);
    expect(await outbox.list({ state: 'delivered' })).toMatchObject([{ idempotencyKey: 'incident:2:opened' }]);
  });

  it('dead-letters at once what the receiver refuses (4xx), and sends it again when redriven', async () => {
    receiver.answer = (_r, i) => (i === 0 ? 400 : 200);
    const { enqueue, dispatcher: d, failures, outbox } = setup([generic()]);
    await enqueue(incidentEntry(1));
    expect(failures).toMatchObject([{ attempt: 1, status: 400, final: true, reason: 'HTTP 400: refused by the receiver, not retried' }]);
    const [dead] = await outbox.list({ state: 'dead' });
    expect(await d.redrive(dead!.id)).toBe(true);
    await d.idle();
    expect(receiver.received).toHaveLength(2);
    expect(await outbox.list()).toMatchObject([{ state: 'delivered', attempts: 1 }]);
  });

  it('has one delivery in flight per endpoint, in enqueue order, and one failing endpoint holds back no other', async () => {
    const slow = gate();
    receiver.answer = async (r) => {
      if (r.path === '/down') return 503;
      if (r.idempotencyKey === 'incident:1:opened') await slow.opened;
      return 200;
    };
    const inFlight = new Map<string, number>();
    let mostInFlight = 0;
    const counting: OutboxTransport = async (request) => {
      const n = (inFlight.get(request.url) ?? 0) + 1;
      inFlight.set(request.url, n);
      mostInFlight = Math.max(mostInFlight, n);
      try {
        return await httpWebhookTransport(request);
      } finally {
        inFlight.set(request.url, n - 1);
      }
    };
    const { dispatcher: d, outbox } = setup([generic('down', '/down'), generic('ops', '/ops')], { transport: counting });
    await enqueueAll(outbox, ...[1, 2, 3].map((id) => incidentEntry(id)));
    d.kick();
    await receiver.waitFor(2);
    // More kicks while entry 1 is in flight start nothing beside it.
    d.kick();
    d.kick();
    slow.open();
    await d.idle();
    expect(mostInFlight).toBe(1);
    expect(receiver.received.filter((r) => r.path === '/ops').map((r) => r.idempotencyKey)).toEqual(['incident:1:opened', 'incident:2:opened', 'incident:3:opened']);
    expect(receiver.received.filter((r) => r.path === '/down').map((r) => r.idempotencyKey)).toEqual(['incident:1:opened']);
  });

  it('waits as long as a Retry-After asks, up to maxDelayMs', async () => {
    receiver.answer = (_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '20' } } : 200);
    const { enqueue, advance, failures } = setup([generic()]);
    await enqueue(incidentEntry(1));
    expect(failures[0]!.nextAttemptAt).toBe(T0 + 20_000);
    await advance(19_999);
    expect(receiver.received).toHaveLength(1);
    await advance(1);
    expect(receiver.received).toHaveLength(2);
  });

  it('does not wait out a retry time set before the clock was stepped back', async () => {
    const { dispatcher: d, outbox } = setup([generic()], { maxDelayMs: 600_000 });
    await d.stop();
    await enqueueAll(outbox, incidentEntry(1));
    const head = (await outbox.headOf('ops'))!;
    // Scheduled by a clock a day ahead of this one.
    await outbox.markFailed(head.id, { at: T0 + 86_400_000, reason: 'HTTP 500', status: 500, nextAttemptAt: T0 + 86_401_000 });
    const restarted = new OutboxDispatcher({ store: outbox, endpoints: [generic()], clock: time.clock, maxDelayMs: 600_000 });
    dispatcher = restarted;
    restarted.start();
    await restarted.idle();
    expect(receiver.received).toHaveLength(1);
  });

  it('retries a receiver that cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { enqueue, failures, outbox } = setup([{ ...generic(), url: `http://127.0.0.1:${port}/hooks` }]);
    await enqueue(incidentEntry(1));
    expect(failures).toMatchObject([{ attempt: 1, final: false, reason: expect.stringContaining('ECONNREFUSED') }]);
    expect(await outbox.list()).toMatchObject([{ state: 'pending', attempts: 1, lastStatus: null }]);
  });

  it('gives up on a request after timeoutMs and tries again later', async () => {
    receiver.answer = (_r, i) => (i === 0 ? new Promise<never>(() => undefined) : 200);
    const { enqueue, advance, failures, outbox } = setup([generic()], { timeoutMs: 50 });
    await enqueue(incidentEntry(1));
    expect(failures).toMatchObject([{ attempt: 1, final: false, reason: 'no response within 50 ms' }]);
    await advance(1_000);
    expect(await outbox.list()).toMatchObject([{ state: 'delivered', attempts: 2 }]);
  });

  it('sends nothing of a transaction that rolled back, even when kicked inside it', async () => {
    const { dispatcher: d, outbox } = setup([generic()]);
    await expect(inTransaction(outbox, async (w) => {
      await w.enqueue(incidentEntry(1));
      d.kick();
      throw new Error('domain write refused');
    })).rejects.toThrow('domain write refused');
    await d.idle();
    expect(receiver.received).toHaveLength(0);
  });

  it('through a kickingWriter, starts delivering once the enqueuing transaction has committed', async () => {
    const { dispatcher: d, outbox } = setup([generic()]);
    await inTransaction(outbox, async (w) => {
      const writer = kickingWriter(w, d);
      expect(await writer.enqueue(incidentEntry(1))).toBe(true);
      expect(await writer.enqueue(incidentEntry(1))).toBe(false);
    });
    await Promise.resolve();
    await d.idle();
    expect(receiver.received.map((r) => r.idempotencyKey)).toEqual(['incident:1:opened']);
  });

  it('finds entries enqueued without a kick on its next poll', async () => {
    const { advance, outbox } = setup([generic()], { pollIntervalMs: 30_000 });
    await dispatcher!.idle();
    await enqueueAll(outbox, incidentEntry(1));
    await advance(29_999);
    expect(receiver.received).toHaveLength(0);
    await advance(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('on stop, lets the request in flight finish and records it, then sends nothing more', async () => {
    const slow = gate();
    receiver.answer = async () => { await slow.opened; return 200; };
    const { dispatcher: d, outbox } = setup([generic()]);
    await enqueueAll(outbox, incidentEntry(1));
    d.kick();
    await receiver.waitFor(1);
    const stopping = d.stop();
    slow.open();
    await stopping;
    expect(await outbox.list()).toMatchObject([{ state: 'delivered' }]);
    await enqueueAll(outbox, incidentEntry(2));
    d.kick();
    time.advance(3_600_000);
    await d.idle();
    expect(receiver.received).toHaveLength(1);
    expect(time.pendingTimers()).toBe(0);
  });

  it('reports a store that fails and tries it again after a backoff', async () => {
    const outbox = new SqlOutboxStore(database.db, { now: () => time.now, endpoints: [generic()] });
    let failuresLeft = 1;
    const store = new Proxy(outbox, {
      get(target, prop) {
        if (prop === 'headOf' && failuresLeft-- > 0) return async () => { throw new Error('SQLITE_BUSY: database is locked'); };
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as OutboxStore;
    const storeErrors: string[] = [];
    await enqueueAll(outbox, incidentEntry(1));
    dispatcher = new OutboxDispatcher({
      store, endpoints: [generic()], clock: time.clock, random: () => 0,
      onStoreError: (err, endpoint) => storeErrors.push(`${endpoint}: ${(err as Error).message}`),
    });
    dispatcher.start();
    await dispatcher.idle();
    expect(storeErrors).toEqual(['ops: SQLITE_BUSY: database is locked']);
    expect(receiver.received).toHaveLength(0);
    time.advance(1_000);
    await dispatcher.idle();
    expect(receiver.received).toHaveLength(1);
  });
});

describe('OutboxDispatcher to PagerDuty', () => {
  const pagerDuty = (): NotificationEndpoint => ({
    id: 'pager', url: receiver.url('/v2/enqueue'), secret: SECRET, format: 'pagerduty', routingKey: 'R0UT1NGKEY0123456789abcdefabcdef',
  });

  it('sends Events API v2 trigger, acknowledge and resolve under one dedup key; other topics only to generic endpoints', async () => {
    receiver.answer = (r) => (r.path === '/v2/enqueue' ? 202 : 200);
    const { enqueue } = setup([pagerDuty(), generic()]);
    const incident = { site: 'dc1', asset: 'PANEL-LP-4B', severity: 'critical', url: 'https://shellguard.example.com/incidents/12' };
    await enqueue(
      incidentEntry(12, 'opened', { ...incident, summary: 'Wrong panel opened: PANEL-LP-4B instead of PANEL-LP-4A' }),
      { topic: 'audit.anchor', idempotencyKey: 'audit:anchor:7', payload: { seq: 7 } },
      incidentEntry(12, 'acknowledged', { ...incident, status: 'acknowledged', assignee: 'maria' }),
      incidentEntry(12, 'resolved', { ...incident, status: 'resolved' }),
    );
    const pd = receiver.received.filter((r) => r.path === '/v2/enqueue');
    expect(pd.map((r) => [r.json.event_action, r.json.dedup_key, r.idempotencyKey])).toEqual([
      ['trigger', 'shellguard-incident-12', 'incident:12:opened'],
      ['acknowledge', 'shellguard-incident-12', 'incident:12:acknowledged'],
      ['resolve', 'shellguard-incident-12', 'incident:12:resolved'],
    ]);
    expect(pd[0]!.json).toEqual({
      routing_key: 'R0UT1NGKEY0123456789abcdefabcdef',
      event_action: 'trigger',
      dedup_key: 'shellguard-incident-12',
      payload: {
        summary: 'Wrong panel opened: PANEL-LP-4B instead of PANEL-LP-4A', source: 'dc1', severity: 'critical',
        timestamp: new Date(T0).toISOString(), component: 'PANEL-LP-4B', group: 'dc1', class: 'wrong_panel_opened',
        custom_details: { incident_id: 12, kind: 'wrong_panel_opened', severity: 'critical', status: 'open', topic: 'incident.opened', idempotency_key: 'incident:12:opened' },
      },
      client: 'Shellguard',
      client_url: 'https://shellguard.example.com/incidents/12',
      links: [{ href: 'https://shellguard.example.com/incidents/12', text: 'Shellguard incident 12' }],
    });
    expect(pd.every((r) => r.signatureOk)).toBe(true);
    expect(receiver.received.filter((r) => r.path === '/hooks/incidents').map((r) => r.idempotencyKey)).toEqual([
      'incident:12:opened', 'audit:anchor:7', 'incident:12:acknowledged', 'incident:12:resolved',
    ]);
  });

  it('dead-letters, unsent, an incident PagerDuty could not take, while generic endpoints still get it', async () => {
    const { enqueue, failures, outbox } = setup([pagerDuty(), generic()]);
    await enqueue(incidentEntry(3, 'opened', { severity: 'severe' }));
    expect(receiver.received.map((r) => r.path)).toEqual(['/hooks/incidents']);
    expect(failures).toMatchObject([{ webhook: 'pager', final: true, reason: expect.stringContaining('incident.severity must be low, medium, high or critical') }]);
    expect(await outbox.list({ state: 'dead' })).toMatchObject([{ endpointId: 'pager', attempts: 1 }]);
  });
});

describe.each(SQL_ENGINES)('two dispatchers on one %s database (server replicas)', (engine) => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'dispatch');
    await migrateServerDatabase(t.database);
  });
  afterEach(async () => { await t.destroy(); });

  it('never send one delivery twice nor two of one endpoint at once, and keep the endpoint\'s order', async () => {
    const endpoints = [generic()];
    let inFlight = 0;
    let mostInFlight = 0;
    receiver.answer = async () => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      // Hold each request a moment, so the other replica looks at the queue while it is in flight.
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return 200;
    };
    const stores = [new SqlOutboxStore(t.database.db, { endpoints }), new SqlOutboxStore(t.reopen().db, { endpoints })];
    for (let id = 1; id <= 12; id++) await stores[id % 2]!.enqueue(incidentEntry(id));
    // Real time: both replicas poll the shared queue every few milliseconds, as fast as they can.
    const replicas = stores.map((store, i) => new OutboxDispatcher({ store, endpoints, claimant: `replica-${i}`, pollIntervalMs: 5 }));
    for (const r of replicas) r.start();
    try {
      while ((await stores[0]!.stats()).endpoints[0]!.delivered < 12) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      for (const r of replicas) await r.stop();
    }
    expect(Object.values(receiver.countByKey())).toEqual(Array.from({ length: 12 }, () => 1));
    expect(receiver.received.map((r) => r.idempotencyKey)).toEqual(Array.from({ length: 12 }, (_, i) => `incident:${i + 1}:opened`));
    expect(mostInFlight).toBe(1);
  });
});
