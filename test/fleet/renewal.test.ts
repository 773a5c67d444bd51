/**
 * Renewal without a telemetry gap (issue 3, "Proof required"): a fleet of guardians attests,
 * connects, renews its operational certificate several times and keeps streaming; then one
 * guardian's measured software changes on disk and its next attestation is refused.
 *
 * Real TLS checks certificate validity against the real clock, so days of fake time cannot pass
 * through real sockets. Instead everything runs for real in this process (server with broker and
 * API, simulated equipment, four guardians, as `shellguard demo` wires them) with certificates
 * that live minutes instead of a day, so every guardian renews several times within the test.
 *
 * What the guardians queued is read from their own queue database, what the server stored from
 * its database once it stopped (see test/system/support).
 */
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, readdirSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import {
  EnrolmentRefused, FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION, loadGuardianConfig, measureGuardianConfig, startGuardian,
  type GuardianHandle,
} from '@shellguard/guardian';
import { initPki, startServer, type ServerHandle } from '@shellguard/server';
import { BUILTIN_PROFILE_DIR, type Measurement } from '@shellguard/protocol';
import { startSimulatedSite, type SimulatedAsset, type SimulatedSite } from '@shellguard/sim';
import { getJson } from '../system/support/https-json.ts';
import { readQueueState } from '../system/support/guardian-queue.ts';
import { readStoredTelemetry, serverDbFile } from '../system/support/server-store.ts';
import { sleep, waitFor } from '../system/support/wait-for.ts';

const SITE = 'site-1';
const GROUP = 'site-1-guardians';
const ACTOR = 'system:test';
const GUARDIANS = 4;
const ASSETS = 8;
const POLL_MS = 200;
/**
 * Operational certificate lifetime: 36 s instead of 24 h, so several renewals fit in a test run.
 * (The server caps the notBefore backdate at a tenth of the lifetime, so the guardian's renewal at
 * 2/3 of notBefore..notAfter falls about 21 s after each issuance.)
 */
const CERT_VALIDITY_HOURS = 0.01;
/** Every guardian renews at least this many times while streaming. */
const RENEWALS = 2;
/**
 * The longest stretch allowed without anything from a guardian reaching the server, or without a
 * stored sample of one of its assets: a few poll intervals plus a reconnect (TLS handshake,
 * NBIRTH, redelivery of what was in flight) on a loaded two-core machine.
 */
const MAX_GAP_MS = 10 * POLL_MS + 3_000;

interface GuardianUnderTest {
  name: string;
  dir: string;
  deviceId: string;
  assets: SimulatedAsset[];
  profilesDir: string;
  flowConfig: string;
  drainConfig: string;
  handle?: GuardianHandle;
  /** Longest time the uplink was not connected after it first connected (ms). */
  longestOffline: number;
  offlineSince?: number;
  everConnected: boolean;
}

function split<T>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, i) => out[i % parts]!.push(item));
  return out;
}

/** One release holding every guardian's measurements: same runtime and bundle, a config digest per file. */
function mergeManifests(all: Measurement[][]): Measurement[] {
  const seen = new Map<string, Measurement>();
  for (const m of all.flat()) seen.set(`${m.component}/${m.digest}`, m);
  return [...seen.values()];
}

function maxGap(times: number[]): number {
  const sorted = [...new Set(times)].sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]! - sorted[i - 1]!);
  return gap;
}

function openServerDb(dataDir: string): Database.Database {
  return new Database(serverDbFile(dataDir), { readonly: true, fileMustExist: true, timeout: 5_000 });
}

describe('a fleet of guardians renewing short-lived certificates', () => {
  let work: string;
  let serverDir: string;
  let caDir: string;
  let rootFile: string;
  let logger: Logger;
  let server: ServerHandle | undefined;
  let sim: SimulatedSite | undefined;
  const guardians: GuardianUnderTest[] = [];
  let monitor: NodeJS.Timeout | undefined;
  let flowStartedAt = 0;
  let flowEndedAt = 0;
  const writes: string[] = [];

  const diagnostics = async (): Promise<string> => (await Promise.all(guardians.map(async (g) => {
    const s = g.handle?.stats();
    const passes = (await server?.fleet.attestations(g.deviceId))?.filter((a) => a.result === 'pass').length;
    return `${g.name}: passes ${passes} uplink ${JSON.stringify(s?.uplink)} queue ${JSON.stringify(s?.queue)} offline max ${g.longestOffline} ms`;
  }))).join('\n') + `\nbroker ${JSON.stringify(server?.stats().broker)} logs in ${work}`;

  function writeConfig(g: GuardianUnderTest, mode: 'flow' | 'drain'): string {
    const file = path.join(g.dir, `guardian-${mode}.yaml`);
    writeFileSync(file, toYaml({
      site: SITE,
      dataDir: g.dir,
      server: { mqttUrl: `mqtts://127.0.0.1:${server!.mqttPort}`, apiUrl: `https://127.0.0.1:${server!.apiPort}`, caFile: rootFile },
      profilesDir: g.profilesDir,
      equipment: g.assets.map((a) => ({
        asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId,
        // drain: one poll at start, then nothing for an hour, so the queue can empty and stay empty.
        pollIntervalMs: mode === 'flow' ? POLL_MS : 3_600_000,
        fastPollIntervalMs: 0,
      })),
    }));
    return file;
  }

  async function start(g: GuardianUnderTest, configFile: string): Promise<GuardianHandle> {
    g.handle = await startGuardian(loadGuardianConfig(configFile), { logger: logger.child({ part: g.name }), configFile });
    return g.handle;
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'shellguard-renewal-'));
    serverDir = path.join(work, 'server');
    caDir = path.join(work, 'ca');
    logger = pino({ level: 'info' }, pino.destination({ dest: path.join(work, 'test.log'), sync: true }));
    await initPki(caDir, { commonName: 'Renewal test site' });
    server = await startServer({
      dataDir: serverDir,
      caDir,
      mqtt: { host: '127.0.0.1', port: 0 },
      api: { host: '127.0.0.1', port: 0 },
      tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    }, { logger: logger.child({ part: 'server' }), certificateValidityHours: CERT_VALIDITY_HOURS });
    rootFile = path.join(work, 'root.crt');
    writeFileSync(rootFile, server.rootPem);
    sim = await startSimulatedSite({ site: SITE, assets: ASSETS, basePort: 0, seed: 1, onWrite: (asset) => writes.push(asset) });

    await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: GUARDIAN_VERSION }, ACTOR);
    const manifests: Measurement[][] = [];
    for (const [i, assets] of split(sim.assets, GUARDIANS).entries()) {
      const dir = path.join(work, `guardian-${i + 1}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Each guardian loads its profiles from its own copy, so the negative case can change one
      // guardian's files without touching the repository or the other guardians.
      const profilesDir = path.join(dir, 'profiles');
      mkdirSync(profilesDir);
      for (const f of readdirSync(BUILTIN_PROFILE_DIR)) cpSync(path.join(BUILTIN_PROFILE_DIR, f), path.join(profilesDir, f));
      const keys = await FileKeyStore.open(dir);
      const g: GuardianUnderTest = {
        name: `guardian-${i + 1}`, dir, deviceId: keys.deviceId, assets, profilesDir, flowConfig: '', drainConfig: '',
        longestOffline: 0, everConnected: false,
      };
      g.flowConfig = writeConfig(g, 'flow');
      g.drainConfig = writeConfig(g, 'drain');
      await server.fleet.claim({ deviceId: g.deviceId, site: SITE, group: GROUP }, ACTOR);
      for (const file of [g.flowConfig, g.drainConfig]) manifests.push(await measureGuardianConfig(loadGuardianConfig(file), file));
      guardians.push(g);
    }
    await server.fleet.registerRelease({ group: GROUP, swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components: mergeManifests(manifests) }, ACTOR);
  }, 60_000);

  afterAll(async () => {
    if (monitor) clearInterval(monitor);
    for (const g of guardians) await g.handle?.stop().catch(() => {});
    await sim?.stop();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('attests, connects and renews every guardian at least twice with no gap in telemetry, storing every batch once', async () => {
    flowStartedAt = Date.now();
    await Promise.all(guardians.map((g) => start(g, g.flowConfig)));
    // Watch each uplink: after its first connection, how long was it ever without one?
    monitor = setInterval(() => {
      const now = Date.now();
      for (const g of guardians) {
        const connected = g.handle?.stats().uplink.connected === true;
        if (connected) {
          g.everConnected = true;
          if (g.offlineSince !== undefined) g.longestOffline = Math.max(g.longestOffline, now - g.offlineSince);
          g.offlineSince = undefined;
        } else if (g.everConnected && g.offlineSince === undefined) {
          g.offlineSince = now;
        }
      }
    }, 50);

    await waitFor(`every guardian renewed its certificate ${RENEWALS} times and reconnected`, () => guardians.every((g) => {
      const s = g.handle!.stats();
      return s.uplink.credentialUpdates >= RENEWALS && s.uplink.connected;
    }), { timeoutMs: 90_000, intervalMs: 250, diagnostics });
    // A little more streaming after the last swap, so a gap right after it would show.
    await sleep(10 * POLL_MS);
    clearInterval(monitor);
    monitor = undefined;
    flowEndedAt = Date.now();

    // Drain: restart each guardian with a config that polls once, and wait until its queue is empty.
    for (const g of guardians) {
      await g.handle!.stop();
      await start(g, g.drainConfig);
    }
    // Its one poll per asset must have happened (and been queued) before an empty queue means drained.
    await waitFor('every guardian polled once and its queue is empty', () => guardians.every((g) => {
      const stats = g.handle!.stats();
      return stats.polls >= g.assets.length && stats.queue.pendingBatches === 0;
    }), {
      timeoutMs: 30_000, diagnostics,
    });
    for (const g of guardians) await g.handle!.stop();

    const broker = server!.stats().broker;
    expect(broker.refusedConnections).toBe(0);

    const fleet = new Map((await server!.fleet.fleetView()).map((d) => [d.deviceId, d]));
    for (const g of guardians) {
      const appraisals = await server!.fleet.attestations(g.deviceId, 1000);
      // The first attestation, then one per renewal (the drain restart may have added one more).
      expect(appraisals.length, g.name).toBeGreaterThanOrEqual(RENEWALS + 1);
      expect(appraisals.filter((a) => a.result !== 'pass'), g.name).toEqual([]);
      for (const a of appraisals) expect(a.certSerial, g.name).toMatch(/^[0-9a-f]+$/);
      expect(new Set(appraisals.map((a) => a.certSerial)).size, `${g.name}: a new certificate every time`).toBe(appraisals.length);
      expect(fleet.get(g.deviceId)).toMatchObject({ state: 'claimed', lastAttestation: { result: 'pass' } });
      expect(g.longestOffline, `${g.name}: longest time without a broker connection while streaming`).toBeLessThanOrEqual(MAX_GAP_MS);
    }
    expect(writes).toEqual([]);
  }, 150_000);

  it('stored every batch each guardian queued exactly once, with no gap in any asset\'s samples', async () => {
    // The server's receive times while the fleet was streaming: never silent for long.
    const received = openServerDb(serverDir);
    const receivedAt = new Map<string, number[]>();
    try {
      for (const r of received.prepare('SELECT device_id, stored_at FROM batch_rows').iterate() as Iterable<{ device_id: string; stored_at: number }>) {
        const list = receivedAt.get(r.device_id) ?? [];
        list.push(r.stored_at);
        receivedAt.set(r.device_id, list);
      }
    } finally {
      received.close();
    }
    const storedSeqs = new Map<string, number[]>();
    const db = openServerDb(serverDir);
    try {
      for (const g of guardians) {
        storedSeqs.set(g.deviceId, (db.prepare('SELECT seq FROM batch_rows WHERE device_id = ? ORDER BY seq').all(g.deviceId) as { seq: number }[]).map((r) => r.seq));
      }
    } finally {
      db.close();
    }
    const gaps: Record<string, unknown> = {};
    for (const g of guardians) {
      const queue = readQueueState(g.dir);
      expect(queue.pendingBatches, `${g.name}: outbox empty after the drain`).toBe(0);
      expect(queue.rejectedBatches + queue.overflowedBatches, g.name).toBe(0);
      const expected = Array.from({ length: queue.nextSeq - 1 }, (_, i) => i + 1);
      // The batches table is keyed by (device, seq): every seq the guardian ever gave out is there.
      expect(storedSeqs.get(g.deviceId), `${g.name}: stored batches`).toEqual(expected);
      const during = (receivedAt.get(g.deviceId) ?? []).filter((t) => t >= flowStartedAt && t <= flowEndedAt);
      // From its first stored batch to the end of the streaming phase.
      gaps[g.name] = { receiveGapMs: maxGap(during), uplinkOfflineMs: g.longestOffline, attestations: (await server!.fleet.attestations(g.deviceId, 1000)).length };
      expect(maxGap(during), `${g.name}: longest time the server received nothing from it`).toBeLessThanOrEqual(MAX_GAP_MS);
    }

    await server!.stop();
    const telemetry = await readStoredTelemetry(serverDir);
    // Exactly once: stored rows are exactly the samples the stored batches carried, no duplicate (point, ts).
    expect(telemetry.rowCount).toBe(telemetry.batchSampleTotal);
    const keys = new Set(telemetry.samples.map((s) => `${s.asset}/${s.point}/${s.ts}`));
    expect(keys.size).toBe(telemetry.samples.length);
    for (const g of guardians) {
      for (const a of g.assets) {
        const ts = telemetry.samples.filter((s) => s.asset === a.id && s.ts >= flowStartedAt && s.ts <= flowEndedAt).map((s) => s.ts);
        expect(ts.length, `${a.id}: samples stored`).toBeGreaterThan(0);
        (gaps[g.name] as Record<string, number>)[a.id] = maxGap(ts);
        expect(maxGap(ts), `${a.id}: longest gap between stored samples`).toBeLessThanOrEqual(MAX_GAP_MS);
      }
    }
    console.log(`renewal test gaps (ms): ${JSON.stringify(gaps)}`);
  }, 60_000);
});

describe('a guardian whose profile changed on disk', () => {
  let work: string;
  let logger: Logger;
  let server: ServerHandle | undefined;
  let sim: SimulatedSite | undefined;
  let handle: GuardianHandle | undefined;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'shellguard-tamper-'));
    logger = pino({ level: 'info' }, pino.destination({ dest: path.join(work, 'test.log'), sync: true }));
  });

  afterAll(async () => {
    await handle?.stop().catch(() => {});
    await sim?.stop();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('fails its next attestation with measurements_mismatch, gets no certificate, is quarantined and never reaches the broker', async () => {
    const serverDir = path.join(work, 'server');
    await initPki(path.join(work, 'ca'), { commonName: 'Tamper test site' });
    server = await startServer({
      dataDir: serverDir, caDir: path.join(work, 'ca'),
      mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
      tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
    }, { logger: logger.child({ part: 'server' }), certificateValidityHours: CERT_VALIDITY_HOURS });
    const rootFile = path.join(work, 'root.crt');
    writeFileSync(rootFile, server.rootPem);
    sim = await startSimulatedSite({ site: SITE, assets: 2, basePort: 0, seed: 2 });
    const dir = path.join(work, 'guardian');
    const profilesDir = path.join(dir, 'profiles');
    mkdirSync(profilesDir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(BUILTIN_PROFILE_DIR)) cpSync(path.join(BUILTIN_PROFILE_DIR, f), path.join(profilesDir, f));
    const keys = await FileKeyStore.open(dir);
    const configFile = path.join(dir, 'guardian.yaml');
    writeFileSync(configFile, toYaml({
      site: SITE, dataDir: dir, profilesDir,
      server: { mqttUrl: `mqtts://127.0.0.1:${server.mqttPort}`, apiUrl: `https://127.0.0.1:${server.apiPort}`, caFile: rootFile },
      equipment: sim.assets.map((a) => ({
        asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId, pollIntervalMs: POLL_MS, fastPollIntervalMs: 0,
      })),
    }));
    await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: GUARDIAN_VERSION }, ACTOR);
    await server.fleet.claim({ deviceId: keys.deviceId, site: SITE, group: GROUP }, ACTOR);
    await server.fleet.registerRelease({
      group: GROUP, swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components: await measureGuardianConfig(loadGuardianConfig(configFile), configFile),
    }, ACTOR);
    const begin = () => startGuardian(loadGuardianConfig(configFile), { logger: logger.child({ part: 'guardian' }), configFile });

    // Genuine first: it attests and streams.
    handle = await begin();
    await waitFor('the guardian streams', () => handle!.stats().uplink.acknowledgedBatches > 0, { timeoutMs: 30_000 });
    await handle.stop();
    handle = undefined;

    // Someone edits an equipment profile the guardian loaded (a harmless-looking comment is enough).
    const usedProfile = loadGuardianConfig(configFile).equipment[0]!.profile;
    const profileFile = readdirSync(profilesDir).map((f) => path.join(profilesDir, f))
      .find((f) => readFileSync(f, 'utf8').includes(`id: ${usedProfile}`));
    expect(profileFile, `the profile file of ${usedProfile}`).toBeDefined();
    appendFileSync(profileFile!, '\n# changed on site\n');

    // A restart reuses a stored certificate until it is due for renewal; wait until it is due so
    // the restart must attest (that is "its next attestation").
    const stored = new X509Certificate(readFileSync(path.join(dir, 'operational.crt'), 'utf8'));
    const from = Date.parse(stored.validFrom);
    const dueAt = from + Math.floor(((Date.parse(stored.validTo) - from) * 2) / 3);
    await sleep(Math.max(0, dueAt - Date.now()) + 200);

    const certsBefore = countCertificates(serverDir, keys.deviceId);
    const refusedBefore = server.stats().broker.refusedConnections;
    try {
      // The held certificate has not expired, so the guardian may start with it; the broker must refuse it.
      handle = await begin();
      console.log('tampered guardian started with its old certificate; the broker must turn it away');
    } catch (err) {
      console.log('tampered guardian could not start: its old certificate had expired');
      // Or it had expired: then the guardian cannot start at all.
      expect(err).toBeInstanceOf(EnrolmentRefused);
      expect((err as EnrolmentRefused).refusal).toBe('measurements_mismatch');
    }

    const [last] = await server.fleet.attestations(keys.deviceId, 1);
    expect(last).toMatchObject({ result: 'fail', reason: 'measurements_mismatch', authentic: true });
    expect(last!.certSerial).toBeUndefined();
    expect(countCertificates(serverDir, keys.deviceId), 'no certificate issued').toBe(certsBefore);
    expect(await server.fleet.getClaim(keys.deviceId)).toMatchObject({ state: 'quarantined', reason: 'measurements_mismatch' });
    const incidents = await getJson(`https://127.0.0.1:${server.apiPort}/api/v1/incidents?deviceId=${keys.deviceId}`, {
      caPem: server.rootPem, token: server.adminToken!,
    });
    expect(incidents.status).toBe(200);
    expect((incidents.body as { incidents: unknown[] }).incidents).toContainEqual(expect.objectContaining({
      kind: 'attestation_failed', reason: 'measurements_mismatch', deviceId: keys.deviceId,
    }));

    if (handle) {
      // It tries to connect with its old, still valid certificate and is turned away each time.
      await waitFor('the broker refused the quarantined guardian', () => server!.stats().broker.refusedConnections > refusedBefore, { timeoutMs: 30_000 });
      expect(handle.stats().uplink.connected).toBe(false);
      expect(handle.stats().uplink.acknowledgedBatches).toBe(0);
    }
    expect(server.stats().connectedDevices).toBe(0);
  }, 120_000);
});

function countCertificates(serverDir: string, deviceId: string): number {
  const db = openServerDb(serverDir);
  try {
    return (db.prepare('SELECT count(*) AS n FROM fleet_certificates WHERE device_id = ?').get(deviceId) as { n: number }).n;
  } finally {
    db.close();
  }
}
