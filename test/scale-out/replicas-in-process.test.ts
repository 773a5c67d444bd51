/**
 * Two server replicas in one process (issue 12, scale-out mode): one site CA, one PostgreSQL
 * database, one Mosquitto (mqtt.external; the replicas split the devices between them, so each
 * device's batches are stored by one replica, in order), one nats-server (`bus: jetstream`). A device claimed and attested as a guardian
 * is sends its UPS's on-battery state, flipping with every batch, so every batch raises or clears
 * the shipped `ups-on-battery` alarm: the alarm history says exactly how often each batch was
 * evaluated.
 *
 * Proved here:
 * - one replica is active and the other standby; the device's traffic is stored by the replica
 *   that owns it (rendezvous hashing over the live replicas), the other leaves it alone;
 * - every batch is evaluated exactly once by the active replica, whichever replica stored it;
 * - the standby shows the stored alarms and refuses operator actions with 503 `alarm_standby`;
 * - when the active replica stops, the standby takes over and continues from the bus: no batch
 *   is evaluated twice or left out; a batch the device redelivers is stored and evaluated once.
 * Killing replicas with SIGKILL, the broker and the bus is test/system/scale-out-replicas.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyStore, GUARDIAN_SWNAME, enrol } from '@shellguard/guardian';
import { ControlKinds, Quality, controlTopic, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, type Measurement } from '@shellguard/protocol';
import { initPki, startServer, type ServerConfig, type ServerHandle } from '@shellguard/server';
import { NatsServerProcess, createTestDatabase, ownerOf, type TestDatabase } from '@shellguard/server/testing';
import { startExternalMosquitto, type ExternalMosquitto } from '../external-broker/mosquitto-site.ts';
import { waitFor } from '../system/support/wait-for.ts';

const SITE = 'site-1';
const GROUP = 'replica-gateways';
const ASSET = 'UPS-01';
const digest = (s: string) => Buffer.from(s.padEnd(32, '.')).toString('hex').slice(0, 64);
const MEASUREMENTS: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles'].map((component) => ({ component, digest: digest(component) }));

interface Health { ingest: { replica: { role: string; id: string; replicas: string[]; leftToOthers: number }; batchesStored: number; batchesDuplicate: number; handOffFailures: number } }

function request(server: ServerHandle, method: string, pathname: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`https://127.0.0.1:${server.apiPort}${pathname}`, {
      method, ca: server.rootPem,
      headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

let adminToken: string | undefined;

describe('two server replicas on one database, one broker and one bus', () => {
  let work: string;
  let db: TestDatabase;
  let nats: NatsServerProcess;
  let mosquitto: ExternalMosquitto;
  let client: pg.Client;
  let device: mqtt.MqttClient | undefined;
  const replicas: Record<'a' | 'b', ServerHandle | undefined> = { a: undefined, b: undefined };
  let keys: FileKeyStore;
  let seq = 0;
  /** Batches not acknowledged yet, resent every 2 s as a guardian's queue does. */
  const unacked = new Map<number, Buffer>();
  const sent = new Map<number, Buffer>();
  let resender: NodeJS.Timeout | undefined;
  const dataTopic = () => sparkplugTopic({ group: SITE, type: 'DDATA', edge: keys.deviceId, device: ASSET });

  const configOf = (name: string): ServerConfig => ({
    dataDir: path.join(work, name), caDir: path.join(work, 'ca'),
    database: { engine: 'postgres', url: db.location },
    bus: { engine: 'jetstream', url: nats.url, stream: 'SGREPL', partitions: 4 },
    // Each replica is its own client of the broker, under its own name.
    mqtt: { ...mosquitto.mqtt, external: { ...mosquitto.mqtt.external!, username: `replica-${name}` } }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    // Replicas share the audit chain's key (ARCHITECTURE.md §2): one file for both.
    audit: { keyFile: path.join(work, 'audit.key') },
  });
  const start = async (name: 'a' | 'b') => {
    replicas[name] = await startServer(configOf(name), { logger: pino({ level: 'silent' }) });
    adminToken ??= replicas[name].adminToken;
    return replicas[name];
  };
  const health = async (server: ServerHandle) => JSON.parse((await request(server, 'GET', '/api/v1/health')).text) as Health;
  /** The on-battery alarm's history in the database: kinds of its events, in order. */
  const history = async (): Promise<string[]> => {
    const r = await client.query<{ kind: string }>(
      `SELECT e.kind FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id
       WHERE a.key = $1 AND e.kind IN ('activate', 'clear') ORDER BY e.seq`, [`${SITE}/${ASSET}/on_battery/ups-on-battery`]);
    return r.rows.map((row) => row.kind);
  };
  /** Sends batches seq+1 … seq+n; batch k reports on_battery = (k is odd). */
  const sendBatches = async (n: number) => {
    for (let i = 0; i < n; i++) {
      seq += 1;
      const now = Date.now();
      const payload = Buffer.from(encodeDeviceData({ epoch: 'replicas', seq }, [{ point: 'on_battery', ts: now - 1000 + seq, value: seq % 2 === 1, quality: Quality.good }], { sparkplugSeq: seq % 256, now }));
      unacked.set(seq, payload);
      sent.set(seq, payload);
      await device!.publishAsync(dataTopic(), payload, { qos: 1 });
    }
  };
  /** activate/clear alternating, one per batch: what exactly-once evaluation of batches 1…n gives. */
  const expected = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'activate' : 'clear'));

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'sg-replicas-'));
    await initPki(path.join(work, 'ca'), { commonName: 'Replica test site' });
    db = await createTestDatabase('postgres', 'replicas');
    client = new pg.Client({ connectionString: db.location });
    await client.connect();
    nats = await NatsServerProcess.start({ name: 'replicas' });
    mosquitto = await startExternalMosquitto(work, path.join(work, 'ca'), ['replica-a', 'replica-b']);
  }, 60_000);

  afterAll(async () => {
    clearInterval(resender);
    await device?.endAsync(true).catch(() => undefined);
    for (const r of Object.values(replicas)) await r?.stop().catch(() => undefined);
    await mosquitto?.stop();
    await nats?.destroy();
    await client?.end();
    await db?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('starts one active replica and one standby', async () => {
    const a = await start('a');
    await waitFor('replica a leads', async () => a.replica().role === 'active', { timeoutMs: 20_000 });
    const b = await start('b');
    await waitFor('each replica sees the other', async () => (await health(a)).ingest.replica.replicas.length === 2, { timeoutMs: 20_000 });
    expect(b.replica().role).toBe('standby');
    expect((await health(b)).ingest.replica).toMatchObject({ role: 'standby', id: b.replica().id });
    expect((await health(a)).ingest.replica.role).toBe('active');
  }, 90_000);

  it('evaluates every batch exactly once, whichever replica stored it', async () => {
    const a = replicas.a!;
    keys = await FileKeyStore.open(path.join(work, 'device'));
    await a.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, 'test');
    await a.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: MEASUREMENTS }, 'test');
    await a.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, 'test');
    const enrolment = await enrol({
      apiUrl: `https://127.0.0.1:${a.apiPort}`, rootCaPem: a.rootPem, keyStore: keys, measurements: MEASUREMENTS,
      swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
    });
    await mosquitto.waitForAccess({ deviceId: keys.deviceId, certPem: enrolment.certificatePem, keyPem: keys.tlsPrivateKeyPem(), rootPem: a.rootPem });
    device = await mqtt.connectAsync(`mqtts://127.0.0.1:${a.mqttPort}`, {
      protocolVersion: 4, clientId: keys.deviceId, reconnectPeriod: 0, connectTimeout: 5_000,
      ca: a.rootPem, cert: enrolment.certificatePem, key: keys.tlsPrivateKeyPem(),
    });
    device.on('message', (_topic, payload) => {
      for (const stored of decodeBatchAck(payload).stored) unacked.delete(stored);
    });
    await device.subscribeAsync(controlTopic(keys.deviceId, 'down', ControlKinds.ack), { qos: 0 });
    resender = setInterval(() => {
      for (const payload of unacked.values()) device?.publish(dataTopic(), payload, { qos: 1 });
    }, 2_000);
    await device.publishAsync(sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: keys.deviceId, device: ASSET }), Buffer.from(encodeDeviceBirth({
      name: 'UPS 1', type: 'ups', area: 'elec-room-1', profile: 'ups-generic',
      points: [{ name: 'on_battery', unit: '', kind: 'binary', description: 'Load on battery' }],
    }, { sparkplugSeq: 0, now: Date.now() })), { qos: 1 });
    // The birth reaches the active replica through the bus before the first batch of its asset.
    await sendBatches(30);
    await waitFor('30 batches evaluated', async () => (await history()).length >= 30, { timeoutMs: 60_000 });
    await waitFor('every batch acknowledged', async () => unacked.size === 0, { timeoutMs: 30_000 });
    expect(await history()).toEqual(expected(30));
    // One replica owns the device and stored all of it; the other received it too and left it alone.
    const [ha, hb] = [await health(a), await health(replicas.b!)];
    const owner = ownerOf(keys.deviceId, [a.replica().id, replicas.b!.replica().id].sort());
    const [mine, other] = owner === a.replica().id ? [ha, hb] : [hb, ha];
    expect(mine.ingest.batchesStored).toBe(30);
    expect(other.ingest.batchesStored).toBe(0);
    expect(other.ingest.replica.leftToOthers).toBeGreaterThanOrEqual(30);
    expect(mine.ingest.replica.replicas).toHaveLength(2);
    expect(ha.ingest.handOffFailures + hb.ingest.handOffFailures).toBe(0);
  }, 120_000);

  it('shows the stored alarms on the standby and refuses operator actions there', async () => {
    const b = replicas.b!;
    await waitFor('the standby shows the alarm', async () => {
      const list = JSON.parse((await request(b, 'GET', `/api/v1/alarms?site=${SITE}`)).text) as { alarms: { id: number; ruleId: string }[] };
      return list.alarms.some((x) => x.ruleId === 'ups-on-battery');
    }, { timeoutMs: 30_000 });
    const list = JSON.parse((await request(b, 'GET', `/api/v1/alarms?site=${SITE}`)).text) as { alarms: { id: number; ruleId: string }[] };
    const id = list.alarms.find((x) => x.ruleId === 'ups-on-battery')!.id;
    const refused = await request(b, 'POST', `/api/v1/alarms/${id}/ack`, { comment: 'on the standby' });
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.text)).toMatchObject({ error: { code: 'alarm_standby' } });
  }, 60_000);

  it('hands over when the active replica stops: the standby continues from the bus, each batch once', async () => {
    const a = replicas.a!;
    const b = replicas.b!;
    const stopping = a.stop();
    await sendBatches(20); // while a stops and b takes over
    await stopping;
    replicas.a = undefined;
    await waitFor('replica b leads', async () => b.replica().role === 'active', { timeoutMs: 30_000 });
    // What reached neither replica while the device changed hands is resent and acknowledged by b.
    await waitFor('every batch acknowledged', async () => unacked.size === 0, { timeoutMs: 60_000 });
    await waitFor('50 batches evaluated', async () => (await history()).length >= 50, { timeoutMs: 60_000 });
    // A redelivered batch (the device did not see its ack): stored once, evaluated once.
    const before = await health(b);
    await device!.publishAsync(dataTopic(), sent.get(seq)!, { qos: 1 });
    await waitFor('the redelivery is recognised', async () => (await health(b)).ingest.batchesDuplicate > before.ingest.batchesDuplicate, { timeoutMs: 30_000 });
    await sendBatches(2);
    await waitFor('52 batches evaluated', async () => (await history()).length >= 52, { timeoutMs: 60_000 });
    expect(await history()).toEqual(expected(52));
    const stored = await client.query<{ n: string }>('SELECT count(*) AS n FROM alarm_handled_messages');
    expect(Number(stored.rows[0]!.n)).toBeGreaterThanOrEqual(52);
  }, 120_000);
});
