/**
 * GET /api/v1/events on a real HTTPS listener, read with node:https as a browser's EventSource
 * would: the real alarm engine and telemetry store feed the hub, whose timers run on fake time,
 * so the assertions are about what arrives and how many times, never about milliseconds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Quality } from '@shellguard/protocol';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import type { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import type { IncomingBatch } from '../../src/telemetry/telemetry-store.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import type { Alarm } from '../../src/alarms/alarm.ts';
import { buildApi } from '../../src/api/build-api.ts';
import { EventHub } from '../../src/live/event-hub.ts';
import { liveHealth, watchStoredSamples } from '../../src/live/live-sources.ts';
import { AHU, FakeTime, openEngine, SITE } from '../alarms/engine-fixture.ts';
import { httpsRequest, selfSignedCertificate, SseClient } from './https-client.ts';

const MAX_QUEUED = 64 * 1024;
const HOUR = 3_600_000;
const SAT_RULE = {
  id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'medium',
  description: 'Supply air temperature', h: 30, hh: 35, deadband: 1, maxShelveMs: 2 * HOUR,
};

let db: SqliteDatabase;
let time: FakeTime;
let hub: EventHub;
let engine: AlarmEngine;
let store: SqliteTelemetryStore;
let app: FastifyInstance;
let port: number;
let ca: string;
let engineer: string;
let viewer: string;
let appClosed = false;
let doomedToken: string;
let revokeDoomed: () => Promise<boolean>;
const clients: SseClient[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function stream(query: string, token: string | null = viewer): Promise<SseClient> {
  const client = await SseClient.open(port, ca, `/api/v1/events${query}`, token ? { authorization: `Bearer ${token}` } : {});
  clients.push(client);
  if (client.status === 200) await client.count('hello', 1);
  return client;
}

function api(method: 'GET' | 'POST', path: string, token: string) {
  return httpsRequest(port, ca, path, {
    method, headers: { authorization: `Bearer ${token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    ...(method === 'POST' ? { body: '{}' } : {}),
  });
}

/** Lets the event loop run (sockets, TLS) until `test` holds. */
async function eventually(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
}

let seq = 0;
function batch(samples: [string, number][]): IncomingBatch {
  return {
    deviceId: 'gw-1', site: SITE, asset: AHU, epoch: 'e1', seq: ++seq,
    samples: samples.map(([point, value], i) => ({ point, value, ts: time.now - 10_000 + seq * 10 + i, quality: Quality.good })),
  };
}

function bigAlarm(id: number): Alarm {
  return {
    id, key: `dc1/AHU-9/p/r${id}`, ruleId: `r${id}`, kind: 'limit', level: 'h', site: 'dc1', asset: 'AHU-9', point: 'p',
    priority: 'low', description: 'x'.repeat(16_000), state: 'unack-active', active: true, acknowledged: false, shelved: null,
    suppressed: false, outOfService: null, annunciated: true, activeSince: 1, changedAt: 1, value: 1, pending: null, retired: false,
  };
}

beforeAll(async () => {
  const cert = selfSignedCertificate();
  ca = cert.certPem;
  db = openDatabase(':memory:');
  time = new FakeTime();
  store = await sqliteTelemetryStore(db, { now: () => time.now });
  hub = new EventHub({
    clock: time.clock, maxQueuedBytes: MAX_QUEUED,
    snapshots: {
      latest: (id) => store.latest(id),
      health: liveHealth({ ingest: () => ({ samplesStored: 0, messages: 0, rejected: {} }), connectedDevices: () => 0, alarms: () => engine.list(), now: () => time.now }),
    },
  });
  engine = (await openEngine(openSqliteSqlDatabase(db), time, { onAlarmChanged: (alarm) => hub.alarmChanged(alarm) })).engine;
  const tokens = await openTestApiTokens(db);
  engineer = (await tokens.create('field engineer', 'engineer')).token;
  const doomed = await tokens.create('to be revoked', 'viewer');
  revokeDoomed = () => tokens.revoke(doomed.tokenId);
  doomedToken = doomed.token;
  viewer = (await tokens.create('dashboard', 'viewer')).token;
  app = buildApi({
    store, registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, logger: pino({ level: 'silent' }), tls: cert, now: () => time.now,
    alarms: engine, events: hub, eventsRecheckMs: 50,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await eventually(() => hub.stats().streams.length === 0);
});

afterAll(async () => {
  if (!appClosed) await app?.close();
  await store?.close();
  await engine?.stop();
  db?.close();
});

describe('GET /api/v1/events', () => {
  it('refuses a caller without a valid token (401), like every API route', async () => {
    for (const token of [null, 'sgt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      const client = await stream('', token);
      expect(client.status).toBe(401);
      expect(JSON.parse(await client.body())).toMatchObject({ error: { code: 'unauthorized' } });
    }
    expect(hub.stats().streams).toHaveLength(0);
  });

  it('answers text/event-stream, never cached or buffered, starting with hello (all topics by default)', async () => {
    const client = await stream('');
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream');
    expect(client.headers['cache-control']).toBe('no-store');
    expect(client.headers['x-accel-buffering']).toBe('no');
    expect(client.events[0]!.event).toBe('hello');
    expect(JSON.parse(client.events[0]!.data)).toEqual({ topics: ['alarms', 'fleet', 'health', 'recommendations', 'panels'], points: [] });
  });

  it('refuses unknown topics, bad point ids and more than 500 points (400)', async () => {
    for (const query of ['?topics=alarms,weather', '?points=1,x', '?points=0', `?points=${Array.from({ length: 501 }, (_, i) => i + 1).join(',')}`]) {
      const client = await stream(query);
      expect(client.status, query).toBe(400);
      expect(JSON.parse(await client.body())).toMatchObject({ error: { code: 'bad_request' } });
    }
  });

  it('pushes every alarm change in the shape GET /alarms gives it: activation, then acknowledgement', async () => {
    const client = await stream('?topics=alarms');
    await engine.defineRule(SAT_RULE, 'token:setup');
    time.advance(1_000);
    engine.evaluate(SITE, AHU, 'supply_air_temp', { point: 'supply_air_temp', value: 31.5, ts: time.now, quality: Quality.good });
    time.advance(0);
    const [activated] = await client.count('alarm', 1);
    const pushed = JSON.parse(activated!.data) as Json;
    expect(pushed).toMatchObject({ key: `${SITE}/${AHU}/supply_air_temp/ahu.sat:h`, state: 'unack-active', value: 31.5 });
    const listed = JSON.parse((await api('GET', `/api/v1/alarms?site=${SITE}&state=unack-active`, viewer)).body) as Json;
    expect(listed.alarms).toEqual([pushed]);

    const acked = await api('POST', `/api/v1/alarms/${pushed.id}/ack`, engineer);
    expect(acked.status).toBe(200);
    time.advance(0);
    const events = await client.count('alarm', 2);
    const after = JSON.parse(events[1]!.data) as Json;
    expect(after).toEqual((JSON.parse(acked.body) as Json).alarm);
    expect(after).toEqual((JSON.parse((await api('GET', `/api/v1/alarms/${pushed.id}`, viewer)).body) as Json).alarm);
    expect(after).toMatchObject({ state: 'ack-active', acknowledged: true });
  });

  it('pushes the latest values of subscribed points only, coalesced to one event per 500 ms', async () => {
    const first = batch([['sat', 20], ['rat', 24], ['oat', 5]]);
    await store.appendBatches([first]);
    const sat = store.findPointId(SITE, AHU, 'sat')!;
    const rat = store.findPointId(SITE, AHU, 'rat')!;
    const feed = watchStoredSamples(hub, (s, a, p) => store.findPointId(s, a, p));
    const client = await stream(`?topics=&points=${sat},${rat}`);
    expect(JSON.parse(client.events[0]!.data)).toEqual({ topics: [], points: [sat, rat] });

    const stored = async (samples: [string, number][]) => {
      const b = batch(samples);
      await store.appendBatches([b]);
      feed([b]);
    };
    await stored([['sat', 21]]);
    await stored([['sat', 22]]);
    await stored([['sat', 23], ['oat', 6]]);
    await stored([['rat', 25]]);
    time.advance(499);
    time.advance(1);
    const [one] = await client.count('latest', 1);
    const points = (JSON.parse(one!.data) as Json).points as Json[];
    expect(points.sort((a, b) => a.id - b.id)).toEqual([
      { id: sat, ts: store.latest(sat)!.ts, value: 23, quality: Quality.good },
      { id: rat, ts: store.latest(rat)!.ts, value: 25, quality: Quality.good },
    ].sort((a, b) => a.id - b.id));

    await stored([['sat', 24]]);
    await stored([['oat', 7]]);
    time.advance(500);
    const [, two] = await client.count('latest', 2);
    expect(JSON.parse(two!.data)).toEqual({ points: [{ id: sat, ts: store.latest(sat)!.ts, value: 24, quality: Quality.good }] });

    // A ping 15 s on marks the end: everything sent before it has arrived, and it was two events.
    await stored([['oat', 8]]);
    time.advance(15_000);
    await client.count('comment', 1);
    expect(client.of('latest')).toHaveLength(2);
  });

  it('sends health every 5 s', async () => {
    const client = await stream('?topics=health');
    time.advance(5_000);
    const [h] = await client.count('health', 1);
    expect(Object.keys(JSON.parse(h!.data) as Json).sort()).toEqual(
      ['activeAlarms', 'connectedDevices', 'ingest', 'pointsPerSecond', 'time', 'unackAlarms']);
    expect(JSON.parse(h!.data)).toMatchObject({ time: time.now, ingest: { samplesStored: 0 } });
  });

  it('keeps a client that stopped reading within bounds: alarm events dropped, then a resync once it reads again', async () => {
    const slow = await stream('?topics=alarms');
    slow.pause();
    let published = 0;
    const slowStats = () => hub.stats().streams[0]!;
    // Until the socket and the kernel's buffers are full and the stream still owes a resync a moment later.
    while (!slowStats().owesResync) {
      for (let i = 0; i < 50; i++) hub.alarmChanged(bigAlarm(++published));
      time.advance(0);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // As much again changes nothing the server holds for it.
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < published / 10; i++) hub.alarmChanged(bigAlarm(published + 1 + i));
      time.advance(0);
    }
    published *= 2;
    const held = slowStats();
    expect(held).toMatchObject({ blocked: true, owesResync: true });
    expect(held.queuedBytes).toBeLessThanOrEqual(MAX_QUEUED);
    expect(held.bufferedBytes).toBeLessThan(MAX_QUEUED);
    expect(held.droppedAlarmEvents).toBeGreaterThan(0);

    slow.resume();
    await eventually(() => !slowStats().blocked);
    const resyncs = await slow.count('resync', 1);
    expect(JSON.parse(resyncs.at(-1)!.data)).toMatchObject({ refetch: ['alarms'] });
    hub.alarmChanged(bigAlarm(10_000_000));
    time.advance(0);
    await slow.until(() => slow.events.at(-1)?.event === 'alarm' && (JSON.parse(slow.events.at(-1)!.data) as Json).id === 10_000_000);
    expect(slow.of('alarm').length).toBeLessThan(published);
    // The resync comes after every alarm event it replaces.
    const names = slow.events.map((e) => e.event);
    expect(names.lastIndexOf('resync')).toBe(names.length - 2);
  });

  it('refuses a principal\'s 9th open stream with 429, not another principal\'s, and leaves no timer once all close', async () => {
    const eight = await Promise.all(Array.from({ length: 8 }, () => stream('?topics=alarms,health', engineer)));
    expect(eight.map((c) => c.status)).toEqual(Array(8).fill(200));
    const ninth = await stream('?topics=alarms', engineer);
    expect(ninth.status).toBe(429);
    expect(JSON.parse(await ninth.body())).toMatchObject({ error: { code: 'too_many_streams' } });
    expect((await stream('?topics=alarms', viewer)).status).toBe(200);
    expect(hub.stats().timers).toBeGreaterThan(0);
    for (const c of clients.splice(0)) c.close();
    await eventually(() => hub.stats().streams.length === 0);
    expect(hub.stats().timers).toBe(0);
    expect((await stream('?topics=alarms', engineer)).status).toBe(200);
  });

  it('ends an open stream once its token is revoked, not only its next request', async () => {
    const client = await stream('?topics=alarms', doomedToken);
    expect(client.status).toBe(200);
    const other = await stream('?topics=alarms', viewer);
    expect(await revokeDoomed()).toBe(true);
    await client.until(() => client.closed);
    expect(other.closed).toBe(false);
  });

  it('ends open streams when the API closes, so stopping never waits on a dashboard', async () => {
    const client = await stream('?topics=alarms');
    await app.close();
    appClosed = true;
    await client.until(() => client.closed);
    expect(hub.stats().streams).toHaveLength(0);
  });
});
