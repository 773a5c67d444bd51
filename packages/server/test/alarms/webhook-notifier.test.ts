import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import type { AlarmNotification } from '../../src/alarms/alarm-engine.ts';
import {
  WebhookNotifier, signWebhookBody, verifyWebhookSignature, type AlarmNotifier,
} from '../../src/alarms/webhook-notifier.ts';
import { AHU, FakeTime, OPERATOR, SITE, memoryDatabase, openEngine, sample } from './engine-fixture.ts';

const SECRET = 'whsec-0123456789abcdef';

interface Received { headers: IncomingHttpHeaders; body: string; signatureOk: boolean }

let server: Server;
let url: string;
let received: Received[];
/** Status of each successive request; 200 once the list is exhausted. */
let statuses: number[];
let time: FakeTime;

beforeEach(async () => {
  received = [];
  statuses = [];
  time = new FakeTime();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      // The receiver's own check, independent of our helper.
      const expected = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
      const signatureOk = req.headers['x-shellguard-signature'] === expected
        && JSON.parse(body).timestamp === Number(req.headers['x-shellguard-timestamp']);
      received.push({ headers: req.headers, body, signatureOk });
      res.statusCode = signatureOk ? (statuses.shift() ?? 200) : 401;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alarms`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function notifier(extra: Partial<ConstructorParameters<typeof WebhookNotifier>[0]> = {}): WebhookNotifier {
  return new WebhookNotifier({
    webhooks: [{ id: 'ops', url, secret: SECRET }], clock: time.clock, baseDelayMs: 1000, maxDelayMs: 3000,
    ...extra,
  });
}

describe('WebhookNotifier', () => {
  it('signs each delivery and retries with exponential backoff until the receiver accepts it', async () => {
    statuses = [500, 503];
    const failures: string[] = [];
    const n = notifier({ onDeliveryFailed: (f) => failures.push(`${f.attempt}:${f.reason}:${f.final}`) });
    n.notify({ type: 'alarm.changed', alarm: { id: 7 } });
    await n.idle();
    expect(received).toHaveLength(1);
    expect(time.delays).toEqual([1000]);
    time.advance(1000);
    await n.idle();
    expect(received).toHaveLength(2);
    expect(time.delays).toEqual([1000, 2000]);
    time.advance(1999);
    await n.idle();
    expect(received).toHaveLength(2);
    time.advance(1);
    await n.idle();
    expect(received).toHaveLength(3);
    expect(received.every((r) => r.signatureOk)).toBe(true);
    expect(n.stats()).toEqual({ delivered: 1, failed: 0, retries: 2, dropped: 0, pending: 0 });
    expect(failures).toEqual(['1:HTTP 500:false', '2:HTTP 503:false']);
    // One delivery id across its retries; a fresh signed timestamp on each attempt.
    const ids = new Set(received.map((r) => r.headers['x-shellguard-delivery']));
    expect(ids.size).toBe(1);
    expect(received.map((r) => Number(r.headers['x-shellguard-timestamp']))).toEqual([time.now - 3000, time.now - 2000, time.now]);
    expect(JSON.parse(received[2]!.body)).toMatchObject({ type: 'alarm.changed', alarm: { id: 7 } });
  });

  it('gives up after the maximum attempts with the delay capped', async () => {
    statuses = Array<number>(10).fill(500);
    const n = notifier({ maxAttempts: 5 });
    n.notify({ type: 'x' });
    for (let i = 0; i < 5; i++) {
      await n.idle();
      time.advance(3000);
    }
    await n.idle();
    expect(received).toHaveLength(5);
    expect(time.delays).toEqual([1000, 2000, 3000, 3000]);
    expect(n.stats()).toMatchObject({ delivered: 0, failed: 1, retries: 4, pending: 0 });
  });

  it('retries when the receiver cannot be reached', async () => {
    // A port that was just free: nothing listens there any more.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const n = new WebhookNotifier({
      webhooks: [{ id: 'down', url: `http://127.0.0.1:${port}/`, secret: SECRET }], clock: time.clock, maxAttempts: 2,
    });
    n.notify({ type: 'x' });
    await n.idle();
    expect(n.stats()).toMatchObject({ retries: 1, pending: 1 });
    n.close();
    expect(n.stats().pending).toBe(0);
    expect(time.pendingTimers()).toBe(0);
  });

  it('bounds the deliveries waiting, dropping the oldest', async () => {
    statuses = Array<number>(10).fill(500);
    const n = notifier({ maxPending: 2 });
    n.notify({ n: 1 });
    n.notify({ n: 2 });
    n.notify({ n: 3 });
    await n.idle();
    expect(n.stats()).toMatchObject({ dropped: 1, pending: 2 });
    n.close();
  });

  it('refuses a webhook with a short secret or a non-http url', () => {
    expect(() => new WebhookNotifier({ webhooks: [{ id: 'a', url, secret: 'short' }] })).toThrow(expect.objectContaining({ code: 'webhook_invalid' }));
    expect(() => new WebhookNotifier({ webhooks: [{ id: 'a', url: 'file:///etc/passwd', secret: SECRET }] }))
      .toThrow(expect.objectContaining({ code: 'webhook_invalid' }));
  });
});

describe('verifyWebhookSignature', () => {
  const body = JSON.stringify({ id: 'd1', timestamp: 1_000_000, type: 'alarm.changed' });
  const headers = { signature: signWebhookBody(SECRET, body), timestamp: '1000000' };

  it('accepts a fresh, correctly signed body', () => {
    expect(verifyWebhookSignature(SECRET, body, headers, 1_000_000 + 1000)).toEqual({ ok: true });
  });

  it('refuses a tampered body, a wrong secret, a swapped timestamp and a replay', () => {
    expect(verifyWebhookSignature(SECRET, body.replace('alarm', 'alarx'), headers, 1_000_000)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyWebhookSignature('another-secret-xxxxxxx', body, headers, 1_000_000)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyWebhookSignature(SECRET, body, { ...headers, timestamp: '2000000' }, 2_000_000)).toEqual({ ok: false, reason: 'bad_timestamp' });
    expect(verifyWebhookSignature(SECRET, body, headers, 1_000_000 + 300_001)).toEqual({ ok: false, reason: 'stale_timestamp' });
  });
});

describe('AlarmEngine notifications', () => {
  let database: SqlDatabase;
  beforeEach(() => {
    database = memoryDatabase();
  });
  afterEach(async () => {
    await database.close();
  });

  it('notifies annunciated changes only, over a real signed webhook', async () => {
    const n = notifier();
    const { engine } = await openEngine(database, time, { notifier: n });
    await engine.defineRule({ id: 'ahu.sat.h', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30 }, OPERATOR);
    const feed = (v: number) => {
      time.now += 1000;
      engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', v, time.now));
    };
    feed(31);
    const id = engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.h', 'h')!.id;
    await engine.acknowledge(id, OPERATOR, 'ok');
    await engine.shelve(id, OPERATOR, { kind: 'timed', durationMs: 60_000 });
    feed(20); // cleared while shelved: silent
    feed(31); // active again while shelved: silent
    await engine.unshelve(id, OPERATOR);
    await engine.stop(); // every change stored, so every notification handed over
    await n.idle();
    const events = received.map((r) => JSON.parse(r.body) as AlarmNotification & { id: string; timestamp: number });
    expect(received.every((r) => r.signatureOk)).toBe(true);
    expect(events.map((e) => [e.event.kind, e.alarm.state, e.alarm.annunciated])).toEqual([
      ['activate', 'unack-active', true], ['acknowledge', 'ack-active', true], ['shelve', 'ack-active', false],
      ['unshelve', 'unack-active', true],
    ]);
    expect(events[1]!.event).toMatchObject({ actor: OPERATOR, comment: 'ok', alarmId: id });
    // Sent once stored: each event carries its place in the history.
    expect(events.map((e) => e.event.seq)).toEqual([...events.map((e) => e.event.seq)].sort((a, b) => a - b));
    expect(events.every((e) => Number.isInteger(e.event.seq))).toBe(true);
  });

  it('keeps evaluating when the notifier throws', async () => {
    const broken: AlarmNotifier = { notify: () => { throw new Error('boom'); } };
    const { engine } = await openEngine(database, time, { notifier: broken });
    await engine.defineRule({ id: 'ahu.sat.h', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30 }, OPERATOR);
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 31, time.now));
    expect(engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.h', 'h')!.state).toBe('unack-active');
    await engine.stop();
  });
});
