/**
 * The whole server on PostgreSQL (issue 12): `startServer` with `database: { engine: 'postgres' }`
 * on a fresh database, its embedded broker and HTTPS API, and a real guardian (the guardian's own
 * `startGuardian`, polling simulated equipment over Modbus TCP) that an operator claims over the
 * API, that attests and gets its operational certificate, and that streams telemetry.
 *
 * Proved here, everything read back through the HTTPS API:
 * - the telemetry stored is exactly what the guardian committed to its queue (its ledger, see
 *   support/guardian-queue.ts), each sample once;
 * - the claim is in the audit log and the keyed chain verifies;
 * - an alarm rule fires on a value the equipment reports (a panel door opening);
 * - a second server started on the same database (migrations already applied, nothing re-applied)
 *   sees the same devices, fleet, audit chain, alarm and telemetry;
 * - what the guardian redelivers to the second server (batches the first one stored, whose acks a
 *   relay held back) is recognised as already stored: after a final drain, the stored samples are
 *   exactly the guardian's, counted per point and per batch in PostgreSQL.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import {
  FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION, loadGuardianConfig, measureGuardianConfig, startGuardian, type GuardianHandle,
} from '@shellguard/guardian';
import type { Measurement } from '@shellguard/protocol';
import { initPki, startServer, type ServerConfig, type ServerHandle } from '@shellguard/server';
import { createTestDatabase, type TestDatabase } from '@shellguard/server/testing';
import { findFreePort, startSimulatedSite, type SimulatedSite } from '@shellguard/sim';
import { startCuttableProxy, type CuttableProxy } from './support/cuttable-proxy.ts';
import { installBatchLedger, readLedger, readQueueState, settledBelow, type LedgerBatch } from './support/guardian-queue.ts';
import { getJson, postJson, type JsonResponse } from './support/https-json.ts';
import { waitFor } from './support/wait-for.ts';

const SITE = 'site-1';
const GROUP = 'pg-guardians';
const ASSETS = 6; // one of each type: AHU, CRAH, UPS, PDU, generator, panel
const POLL_MS = 300;
const DOOR_RULE = 'pg-system-test-door-open';

interface FleetDevice {
  deviceId: string; site: string; group: string; state: string;
  lastAttestation?: { at: number; result: string; reason?: string };
  swversion?: string; measurements?: Measurement[]; certificateNotAfter?: number;
}
interface Device { id: string; site: string; firstSeen: number; lastSeen: number; online: boolean; version: string; assetCount: number }
interface AuditEvent { seq: number; at: number; actor: string; action: string; target: string; detail: Record<string, unknown>; prevHash: string; hash: string }
interface AuditVerification { ok: boolean; events: number; problems: unknown[]; anchors: { checked: number } }
interface AlarmView { id: number; ruleId: string; site: string; asset: string; point: string; state: string; active: boolean }
interface IngestHealth {
  batchesStored: number; batchesDuplicate: number; batchesConflicting: number; samplesStored: number; storeFailures: number; rejected: Record<string, number>;
}

/** One sample as a comparable key; the API gives binary values as 1/0. */
const sampleKey = (asset: string, point: string, ts: number, value: unknown, quality: number): string =>
  `${asset}|${point}|${ts}|${value === true ? 1 : value === false ? 0 : String(value)}|${quality}`;

function countKeys(keys: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}
function ledgerKeys(batches: LedgerBatch[]): string[] {
  return batches.flatMap((b) => b.samples.map((s) => sampleKey(b.asset, s.point, s.ts, s.value, s.quality)));
}
/** Keys of `a` found fewer times in `b` than in `a` (first few). */
function missingFrom(a: Map<string, number>, b: Map<string, number>): string[] {
  return [...a].filter(([k, n]) => (b.get(k) ?? 0) < n).map(([k]) => k).slice(0, 10);
}

describe('the whole server on PostgreSQL', () => {
  let work: string;
  let caDir: string;
  let serverDir: string;
  let rootFile: string;
  let logger: Logger;
  let testDb: TestDatabase;
  let sim: SimulatedSite;
  let relay: CuttableProxy;
  let first: ServerHandle | undefined;
  let second: ServerHandle | undefined;
  let guardian: GuardianHandle | undefined;
  let token: string;
  let apiPort: number;
  let mqttPort: number;
  const guardianDir = (): string => path.join(work, 'guardian');
  let deviceId: string;
  let flowConfig: string;
  let drainConfig: string;
  const writes: string[] = [];

  // What the first server showed, compared with what the second one shows.
  let samplesSeenByFirst: Map<string, number>;
  let fleetOnFirst: FleetDevice[];
  let devicesOnFirst: Device[];
  let auditOnFirst: AuditEvent[];
  let alarmOnFirst: AlarmView;
  let schemaOnFirst: unknown[];
  let firstIngest: IngestHealth;
  let storedWhileAcksHeld = 0;

  const serverConfig = (ports: { api: number; mqtt: number }): ServerConfig => ({
    dataDir: serverDir,
    caDir,
    database: { engine: 'postgres', url: testDb.location, maxConnections: 5 },
    mqtt: { host: '127.0.0.1', port: ports.mqtt },
    api: { host: '127.0.0.1', port: ports.api },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  });

  const api = {
    async get<T>(pathname: string): Promise<T> {
      const r = await getJson(`https://127.0.0.1:${apiPort}/api/v1${pathname}`, { caPem: readFileSync(rootFile, 'utf8'), token });
      if (r.status !== 200) throw new Error(`GET ${pathname}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as T;
    },
    post(pathname: string, body: unknown): Promise<JsonResponse> {
      return postJson(`https://127.0.0.1:${apiPort}/api/v1${pathname}`, body, { caPem: readFileSync(rootFile, 'utf8'), token });
    },
  };

  /** Every stored sample of the site's assets, read point by point over the API. */
  async function samplesViaApi(): Promise<{ keys: string[]; perPoint: Map<string, number> }> {
    const { assets } = await api.get<{ assets: { id: string }[] }>(`/assets?site=${SITE}`);
    const keys: string[] = [];
    const perPoint = new Map<string, number>();
    for (const a of assets) {
      const detail = await api.get<{ points: { id: number; name: string }[] }>(`/assets/${a.id}?site=${SITE}`);
      for (const p of detail.points) {
        const r = await api.get<{ samples: { ts: number; value: number | null; quality: number }[] }>(
          `/points/${p.id}/samples?from=0&to=${Date.now() + 3_600_000}&limit=100000`);
        perPoint.set(`${a.id}/${p.name}`, r.samples.length);
        for (const s of r.samples) keys.push(sampleKey(a.id, p.name, s.ts, s.value, s.quality));
      }
    }
    return { keys, perPoint };
  }

  async function pgQuery<T>(text: string): Promise<T[]> {
    const client = new pg.Client({ connectionString: testDb.location });
    await client.connect();
    try {
      return (await client.query(text)).rows as T[];
    } finally {
      await client.end();
    }
  }

  function writeGuardianConfig(mode: 'flow' | 'drain'): string {
    const file = path.join(guardianDir(), `guardian-${mode}.yaml`);
    writeFileSync(file, toYaml({
      site: SITE,
      dataDir: guardianDir(),
      // MQTT through the relay (so the test can hold back the server's acks), attestation straight to the API.
      server: { mqttUrl: `mqtts://127.0.0.1:${relay.port}`, apiUrl: `https://127.0.0.1:${apiPort}`, caFile: rootFile },
      equipment: sim.assets.map((a) => ({
        asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId,
        // drain: one poll at start, then nothing for an hour, so the queue can empty and stay empty.
        pollIntervalMs: mode === 'flow' ? POLL_MS : 3_600_000,
        fastPollIntervalMs: mode === 'flow' ? 250 : 0,
      })),
    }));
    return file;
  }

  const runGuardian = async (configFile: string): Promise<GuardianHandle> =>
    (guardian = await startGuardian(loadGuardianConfig(configFile), { logger: logger.child({ part: 'guardian' }), configFile, resendAfterMs: 2_000 }));

  const diagnostics = (): string => {
    let queue = 'unreadable';
    try { queue = JSON.stringify(readQueueState(guardianDir())); } catch { /* reported as unreadable */ }
    return `guardian ${JSON.stringify(guardian?.stats().uplink)} queue ${queue}\n` +
      `first ${JSON.stringify(first?.stats().ingest)}\nsecond ${JSON.stringify(second?.stats().ingest)}\nlogs in ${work}`;
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'sg-server-on-postgres-'));
    caDir = path.join(work, 'ca');
    serverDir = path.join(work, 'server');
    rootFile = path.join(work, 'root.crt');
    logger = pino({ level: 'info' }, pino.destination({ dest: path.join(work, 'test.log'), sync: true }));
    await initPki(caDir, { commonName: 'PostgreSQL system test site' });
    testDb = await createTestDatabase('postgres', 'system');
    sim = await startSimulatedSite({ site: SITE, assets: ASSETS, basePort: 0, seed: 5, onWrite: (asset) => writes.push(asset) });
    mkdirSync(guardianDir(), { recursive: true, mode: 0o700 });
    deviceId = (await FileKeyStore.open(guardianDir())).deviceId;
    // The guardian's own queue, with a trigger that keeps a copy of every batch it commits.
    installBatchLedger(guardianDir());
  }, 60_000);

  afterAll(async () => {
    await guardian?.stop().catch(() => {});
    await first?.stop().catch(() => {});
    await second?.stop().catch(() => {});
    await relay?.close();
    await sim?.stop();
    await testDb?.destroy();
    if (work && !process.env.SG_KEEP_SYSTEM_TEST_DIR) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('starts on a fresh PostgreSQL database; a guardian claimed over the API attests, gets its certificate and streams', async () => {
    const tables = await pgQuery<{ n: string }>("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'");
    expect(Number(tables[0]!.n), 'the database is empty before the server starts').toBe(0);

    first = await startServer(serverConfig({ api: 0, mqtt: 0 }), { logger: logger.child({ part: 'server-1' }) });
    apiPort = first.apiPort;
    mqttPort = first.mqttPort;
    writeFileSync(rootFile, first.rootPem);
    expect(first.adminToken, 'a new database gets its admin token').toMatch(/\S{20,}/);
    token = first.adminToken!;
    relay = await startCuttableProxy({ port: await findFreePort('127.0.0.1'), targetHost: '127.0.0.1', targetPort: mqttPort });
    const schema = await pgQuery<{ domain: string }>('SELECT domain FROM schema_versions ORDER BY domain');
    expect(schema.length, 'every domain migrated on PostgreSQL').toBeGreaterThan(5);

    // An operator's enrolment over the API: group, the release this guardian runs (both its
    // configs), the claim.
    flowConfig = writeGuardianConfig('flow');
    drainConfig = writeGuardianConfig('drain');
    const components = new Map<string, Measurement>();
    for (const file of [flowConfig, drainConfig]) {
      for (const m of await measureGuardianConfig(loadGuardianConfig(file), file)) components.set(`${m.component}/${m.digest}`, m);
    }
    expect((await api.post('/groups', { id: GROUP, site: SITE, minSecureVersion: GUARDIAN_VERSION })).status).toBe(201);
    expect((await api.post(`/groups/${GROUP}/releases`, {
      swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components: [...components.values()],
    })).status).toBe(201);
    const claim = await api.post('/claims', { deviceId, site: SITE, group: GROUP });
    expect(claim.status).toBe(201);
    expect((claim.body as { claim: { state: string } }).claim.state).toBe('claimed');

    // startGuardian attests before it resolves: no certificate, no start.
    await runGuardian(flowConfig);
    await waitFor('the guardian\'s telemetry is acknowledged', () => guardian!.stats().uplink.acknowledgedBatches >= 3 * ASSETS, { timeoutMs: 30_000, diagnostics });

    const [attestation] = await first.fleet.attestations(deviceId, 1);
    expect(attestation).toMatchObject({ result: 'pass' });
    const held = new X509Certificate(readFileSync(path.join(guardianDir(), 'operational.crt'), 'utf8'));
    const serial = (s: string) => s.toLowerCase().replace(/^0+/, '');
    expect(serial(held.serialNumber), 'the guardian holds the certificate issued at its attestation').toBe(serial(attestation!.certSerial!));
    expect(held.subject).toContain(deviceId);

    const { devices: fleet } = await api.get<{ devices: FleetDevice[] }>('/fleet');
    expect(fleet).toHaveLength(1);
    expect(fleet[0]).toMatchObject({ deviceId, site: SITE, group: GROUP, state: 'claimed', lastAttestation: { result: 'pass' }, swversion: GUARDIAN_VERSION });
    expect(fleet[0]!.certificateNotAfter).toBeGreaterThan(Date.now());
    const { devices } = await api.get<{ devices: Device[] }>('/devices');
    expect(devices).toEqual([expect.objectContaining({ id: deviceId, site: SITE, online: true, assetCount: ASSETS })]);
    const { assets } = await api.get<{ assets: { id: string; deviceId: string }[] }>(`/assets?site=${SITE}`);
    expect(assets.map((a) => a.id).sort()).toEqual(sim.assets.map((a) => a.id).sort());
    for (const a of assets) expect(a.deviceId).toBe(deviceId);
  }, 120_000);

  it('reads back over HTTPS exactly the telemetry the guardian sent, each sample once', async () => {
    // Acknowledged batches before the read (all stored), the read, then everything committed so far.
    const before = readQueueState(guardianDir());
    const ackedBelow = before.lowestPendingSeq ?? before.nextSeq;
    const acked = readLedger(guardianDir()).filter((b) => b.seq < ackedBelow);
    expect(acked.length).toBeGreaterThanOrEqual(3 * ASSETS);
    const read = await samplesViaApi();
    const committed = readLedger(guardianDir());
    const stored = countKeys(read.keys);
    const ackedKeys = countKeys(ledgerKeys(acked));
    const committedKeys = countKeys(ledgerKeys(committed));
    expect(missingFrom(ackedKeys, stored), 'acknowledged samples not readable').toEqual([]);
    expect(missingFrom(stored, committedKeys), 'samples read that the guardian did not send, or read more often than sent').toEqual([]);
    samplesSeenByFirst = stored;
  }, 60_000);

  it('records the claim in the audit log, and the keyed chain verifies', async () => {
    const { events: claims } = await api.get<{ events: AuditEvent[] }>('/audit?action=device.claim');
    expect(claims).toEqual([expect.objectContaining({
      action: 'device.claim', target: `device:${deviceId}`, actor: expect.stringMatching(/^token:/), detail: { site: SITE, group: GROUP },
    })]);
    const { events: passes } = await api.get<{ events: AuditEvent[] }>(`/audit?action=attestation.pass&target=device:${deviceId}`);
    expect(passes.length).toBeGreaterThanOrEqual(1);
    const verify = await api.get<AuditVerification>('/audit/verify');
    expect(verify).toMatchObject({ ok: true, problems: [] });
    expect(verify.events).toBeGreaterThanOrEqual(4); // group, release, claim, attestation
  }, 30_000);

  it('fires an alarm rule on a value the equipment reports', async () => {
    const panel = sim.assets.find((a) => a.type === 'panel')!;
    const defined = await api.post('/alarm-rules', {
      id: DOOR_RULE, profile: 'panel-generic', point: 'door_open', kind: 'binary', alarmWhen: true, priority: 'high',
      description: 'Panel door open (system test on PostgreSQL)',
    });
    expect(defined.status, JSON.stringify(defined.body)).toBe(201);
    const doorAlarms = async () => (await api.get<{ alarms: AlarmView[] }>(`/alarms?site=${SITE}`)).alarms.filter((a) => a.ruleId === DOOR_RULE);
    expect((await doorAlarms()).filter((a) => a.active || a.state !== 'normal'), 'the door is closed: no alarm').toEqual([]);

    sim.model.openDoor(panel.id);
    await waitFor('the door alarm is raised', async () => (await doorAlarms()).some((a) => a.active), { timeoutMs: 30_000, diagnostics });
    const alarms = await doorAlarms();
    expect(alarms).toEqual([expect.objectContaining({ asset: panel.id, point: 'door_open', state: 'unack-active', active: true })]);
    alarmOnFirst = alarms[0]!;
    const detail = await api.get<{ points: { id: number; name: string }[] }>(`/assets/${panel.id}?site=${SITE}`);
    const door = detail.points.find((p) => p.name === 'door_open')!;
    const latest = await api.get<{ latest: { value: number } | null }>(`/points/${door.id}/latest`);
    expect(latest.latest?.value, 'the stored door state').toBe(1);
  }, 60_000);

  it('stops with the guardian\'s last acks held back; a second server on the same database sees the same devices, audit chain, alarm and telemetry', async () => {
    fleetOnFirst = (await api.get<{ devices: FleetDevice[] }>('/fleet')).devices;
    devicesOnFirst = (await api.get<{ devices: Device[] }>('/devices')).devices;
    auditOnFirst = (await api.get<{ events: AuditEvent[] }>('/audit?limit=1000')).events;
    schemaOnFirst = await pgQuery('SELECT domain, version, applied_at FROM schema_versions ORDER BY domain');

    // The link fails in one direction: batches still arrive and are stored, their acks are lost.
    relay.holdReplies();
    const atHold = first!.stats().ingest.batchesStored;
    await waitFor('batches are stored while their acks are held back', () => first!.stats().ingest.batchesStored >= atHold + 10, { timeoutMs: 30_000, diagnostics });
    const seqAtStop = readQueueState(guardianDir()).nextSeq;
    await first!.stop();
    firstIngest = first!.stats().ingest;
    first = undefined;
    storedWhileAcksHeld = firstIngest.batchesStored - atHold;
    expect(firstIngest).toMatchObject({ storeFailures: 0, batchesConflicting: 0, rejected: {} });

    // The guardian keeps reading and queues while no server runs.
    await waitFor('the guardian queues while the server is down', () => readQueueState(guardianDir()).nextSeq >= seqAtStop + 2 * ASSETS, { timeoutMs: 30_000, diagnostics });

    // The second server: same database, same dataDir (audit key, TUF keys), same ports.
    second = await startServer(serverConfig({ api: apiPort, mqtt: mqttPort }), { logger: logger.child({ part: 'server-2' }) });
    expect(second.adminToken, 'the database has its admin token already: none is made').toBeUndefined();
    expect(await pgQuery('SELECT domain, version, applied_at FROM schema_versions ORDER BY domain'), 'no migration applied again').toEqual(schemaOnFirst);

    // Fleet and devices as the first server left them (the token, too: it is the first server's).
    const fleet = (await api.get<{ devices: FleetDevice[] }>('/fleet')).devices;
    const fleetFields = (d: FleetDevice) => ({
      deviceId: d.deviceId, site: d.site, group: d.group, state: d.state, lastAttestation: d.lastAttestation,
      swversion: d.swversion, measurements: d.measurements, certificateNotAfter: d.certificateNotAfter,
    });
    expect(fleet.map(fleetFields)).toEqual(fleetOnFirst.map(fleetFields));
    const deviceFields = (d: Device) => ({ id: d.id, site: d.site, firstSeen: d.firstSeen, version: d.version, assetCount: d.assetCount });
    expect((await api.get<{ devices: Device[] }>('/devices')).devices.map(deviceFields)).toEqual(devicesOnFirst.map(deviceFields));

    // The audit chain: the same events, hash for hash, and it still verifies (with the first server's stop anchor).
    const audit = (await api.get<{ events: AuditEvent[] }>('/audit?limit=1000')).events;
    expect(audit.slice(0, auditOnFirst.length)).toEqual(auditOnFirst);
    const verify = await api.get<AuditVerification>('/audit/verify');
    expect(verify).toMatchObject({ ok: true, problems: [] });
    expect(verify.events).toBeGreaterThanOrEqual(auditOnFirst.length);
    expect(verify.anchors.checked).toBeGreaterThanOrEqual(1);

    // The alarm, still active and unacknowledged.
    const alarms = (await api.get<{ alarms: AlarmView[] }>(`/alarms?site=${SITE}`)).alarms.filter((a) => a.ruleId === DOOR_RULE);
    expect(alarms).toEqual([expect.objectContaining({ id: alarmOnFirst.id, asset: alarmOnFirst.asset, state: 'unack-active', active: true })]);

    // Every sample the first server returned, the second returns too.
    const read = countKeys((await samplesViaApi()).keys);
    expect(missingFrom(samplesSeenByFirst, read), 'samples the first server returned and the second does not').toEqual([]);

    // The guardian reconnects on its own; what it queued and what it never got acks for is delivered.
    const seqAtRestart = readQueueState(guardianDir()).nextSeq;
    await waitFor('everything queued before the restart is acknowledged', () => settledBelow(guardianDir(), seqAtRestart), { timeoutMs: 60_000, diagnostics });
    expect(storedWhileAcksHeld).toBeGreaterThanOrEqual(10);
    expect(second.stats().ingest.batchesDuplicate, 'batches the first server stored, redelivered to the second: recognised')
      .toBeGreaterThanOrEqual(storedWhileAcksHeld);
  }, 150_000);

  it('after a final drain, every batch and every sample the guardian sent is stored exactly once', async () => {
    // Restart the guardian polling once; its changed config makes it attest again, to the second server.
    const restartedAt = Date.now();
    await guardian!.stop();
    await runGuardian(drainConfig);
    await waitFor('the guardian polled once and its queue is empty', () => {
      const s = guardian!.stats();
      return s.polls >= ASSETS && s.queue.pendingBatches === 0;
    }, { timeoutMs: 30_000, diagnostics });
    await guardian!.stop();
    guardian = undefined;

    const queue = readQueueState(guardianDir());
    expect(queue).toMatchObject({ pendingBatches: 0, rejectedBatches: 0, overflowedBatches: 0 });
    const ledger = readLedger(guardianDir());
    const allSeqs = Array.from({ length: queue.nextSeq - 1 }, (_, i) => i + 1);
    expect(ledger.map((b) => b.seq), 'every seq given to exactly one committed batch').toEqual(allSeqs);

    // Batches in PostgreSQL: each seq once, with the guardian's sample count.
    const rows = await pgQuery<{ seq: string; samples: number; device_id: string }>('SELECT device_id, seq, samples FROM batch_rows ORDER BY seq');
    expect(new Set(rows.map((r) => r.device_id))).toEqual(new Set([deviceId]));
    expect(rows.map((r) => Number(r.seq)), 'stored batches').toEqual(allSeqs);
    const bySeq = new Map(ledger.map((b) => [b.seq, b.sampleCount]));
    expect(rows.filter((r) => bySeq.get(Number(r.seq)) !== r.samples).map((r) => r.seq), 'batches stored with another sample count').toEqual([]);

    // Samples over the API: exactly the guardian's, counted per point.
    const sent = ledgerKeys(ledger);
    const read = await samplesViaApi();
    const expectedPerPoint = new Map<string, number>();
    for (const b of ledger) for (const s of b.samples) expectedPerPoint.set(`${b.asset}/${s.point}`, (expectedPerPoint.get(`${b.asset}/${s.point}`) ?? 0) + 1);
    expect(Object.fromEntries(read.perPoint), 'samples per point').toEqual(Object.fromEntries(expectedPerPoint));
    expect(read.keys.length).toBe(sent.length);
    const sentKeys = countKeys(sent);
    const readKeys = countKeys(read.keys);
    expect(missingFrom(sentKeys, readKeys), 'samples sent but not stored').toEqual([]);
    expect(missingFrom(readKeys, sentKeys), 'samples stored more often than sent').toEqual([]);

    // The servers' own counters: every sample stored once between them, the redeliveries recognised.
    const health = await getJson(`https://127.0.0.1:${apiPort}/api/v1/health`, { caPem: readFileSync(rootFile, 'utf8'), token });
    expect(health.status).toBe(200);
    const ingest = (health.body as { ingest: IngestHealth }).ingest;
    expect(ingest).toMatchObject({ storeFailures: 0, batchesConflicting: 0, rejected: {} });
    expect(firstIngest.batchesStored + ingest.batchesStored, 'batches stored by the two servers').toBe(ledger.length);
    expect(firstIngest.samplesStored + ingest.samplesStored, 'samples stored by the two servers').toBe(sent.length);
    expect(ingest.batchesDuplicate).toBeGreaterThanOrEqual(storedWhileAcksHeld);

    // The second server appraised the restarted guardian, and raised the door alarm only once.
    const [last] = await second!.fleet.attestations(deviceId, 1);
    expect(last).toMatchObject({ result: 'pass' });
    expect(last!.at).toBeGreaterThanOrEqual(restartedAt);
    const alarms = (await api.get<{ alarms: AlarmView[] }>(`/alarms?site=${SITE}`)).alarms.filter((a) => a.ruleId === DOOR_RULE);
    expect(alarms.map((a) => a.id)).toEqual([alarmOnFirst.id]);
    expect((await api.get<AuditVerification>('/audit/verify')).ok).toBe(true);
    expect(writes, 'write requests received by the simulated equipment').toEqual([]);
    console.log(`server on PostgreSQL: ${ledger.length} batches, ${sent.length} samples stored once; ` +
      `${storedWhileAcksHeld} batches stored before the restart without ack, ${ingest.batchesDuplicate} redeliveries recognised after it`);
  }, 90_000);
});
