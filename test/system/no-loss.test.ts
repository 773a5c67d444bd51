/**
 * No loss, no duplicates (issue 2, "Proof required"): while telemetry flows, kill -9 the server,
 * later kill -9 a guardian, and cut the network for a while; after recovery every batch each
 * guardian committed to its queue is stored exactly once, and the stored samples are exactly the
 * samples the guardians read — checked by sequence and by content.
 *
 * Real processes (`shellguard server`, `shellguard guardian run`), real mutual TLS, a TCP relay the
 * test can cut between guardians and broker, simulated equipment on loopback. Enrolment as an
 * operator does it (issue 3): `ca init`, `guardian id`, then through the admin CLI `group create`,
 * `device claim` and `group release` with the manifest `guardian measure` prints; each guardian
 * attests over HTTPS at its first start and receives its operational certificate. What the guardians
 * committed is known from a ledger trigger in their queue database (see support/guardian-queue.ts);
 * what the server stored is read from its database after it stopped.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { startSimulatedSite, type SimulatedAsset, type SimulatedSite } from '@shellguard/sim';
import { CliProcess, runCli } from './support/cli-process.ts';
import { startCuttableProxy, type CuttableProxy } from './support/cuttable-proxy.ts';
import { getJson } from './support/https-json.ts';
import { installBatchLedger, readLedger, readQueueState, settledBelow, type LedgerBatch } from './support/guardian-queue.ts';
import { readStoredBatches, readStoredTelemetry } from './support/server-store.ts';
import { sleep, waitFor } from './support/wait-for.ts';

const SITE = 'site-1';
const GROUP = 'no-loss-guardians';
const BROKER_PORT = 19010;
const RELAY_PORT = 19011;
const API_PORT = 19012;
const API_URL = `https://127.0.0.1:${API_PORT}`;
const SIM_BASE_PORT = 19100;
const ASSETS = 10;
const POLL_MS = 200;
/** Enough new batches per guardian to say "telemetry is flowing" at each step. */
const PROGRESS = 20;

interface GuardianUnderTest {
  name: string;
  dir: string;
  deviceId: string;
  assets: SimulatedAsset[];
  process?: CliProcess;
}

describe('no loss, no duplicates', () => {
  let work: string;
  let caDir: string;
  let rootFile: string;
  let adminEnv: NodeJS.ProcessEnv = {};
  let serverDir: string;
  let serverConfig: string;
  let server: CliProcess | undefined;
  let sim: SimulatedSite | undefined;
  let relay: CuttableProxy | undefined;
  const guardians: GuardianUnderTest[] = [];
  const writes: string[] = [];

  const startServer = (): CliProcess =>
    new CliProcess('server', ['server', '--config', serverConfig], { logFile: path.join(work, 'server.log') });

  function writeGuardianConfig(g: GuardianUnderTest, mode: 'flow' | 'drain'): string {
    const file = path.join(g.dir, `guardian-${mode}.yaml`);
    writeFileSync(file, toYaml({
      site: SITE,
      dataDir: g.dir,
      server: {
        mqttUrl: `mqtts://127.0.0.1:${RELAY_PORT}`,
        // Attestation goes straight to the API, not through the relay the test cuts.
        apiUrl: API_URL,
        caFile: rootFile,
      },
      equipment: g.assets.map((a) => ({
        asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port, unitId: a.unitId,
        // drain: one poll at start, then nothing for an hour, so the queue can empty and stay empty.
        pollIntervalMs: mode === 'flow' ? POLL_MS : 3_600_000,
        fastPollIntervalMs: mode === 'flow' ? 250 : 0,
      })),
    }));
    return file;
  }

  const startGuardian = (g: GuardianUnderTest, mode: 'flow' | 'drain'): CliProcess =>
    new CliProcess(g.name, ['guardian', 'run', '--config', writeGuardianConfig(g, mode)], { logFile: path.join(work, `${g.name}.log`) });

  /** The admin CLI against the running server; the token travels in the environment, not in argv. */
  const admin = (args: string[]): Promise<string> => runCli(args, { env: adminEnv });

  /**
   * Registers the release this guardian runs with this config, as printed by `guardian measure`.
   * Same software, another config: the server adds the config digest to the registered release.
   */
  async function registerRelease(g: GuardianUnderTest, mode: 'flow' | 'drain'): Promise<void> {
    const manifest = await runCli(['guardian', 'measure', '--config', writeGuardianConfig(g, mode)]);
    const file = path.join(g.dir, `release-${mode}.json`);
    writeFileSync(file, manifest);
    await admin(['group', 'release', GROUP, '--file', file]);
  }

  const diagnostics = (): string => {
    const lines = guardians.map((g) => {
      let q = 'queue unreadable';
      try { q = JSON.stringify(readQueueState(g.dir)); } catch { /* reported as unreadable */ }
      return `${g.name} ${g.deviceId.slice(0, 12)}… ${q}\n  log tail: ${g.process?.output().slice(-800) ?? '(not started)'}`;
    });
    return [`server log tail: ${server?.output().slice(-1500) ?? '(not started)'}`, ...lines].join('\n');
  };
  const nextSeqs = (): number[] => guardians.map((g) => readQueueState(g.dir).nextSeq);
  const storedBatches = (g: GuardianUnderTest): number => readStoredBatches(serverDir).get(g.deviceId)?.size ?? 0;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'sg-no-loss-'));
    caDir = path.join(work, 'ca');
    rootFile = path.join(caDir, 'root.crt');
    serverDir = path.join(work, 'server');
    await runCli(['ca', 'init', '--dir', caDir]);

    sim = await startSimulatedSite({
      site: SITE, assets: ASSETS, basePort: SIM_BASE_PORT, seed: 7,
      onWrite: (asset) => writes.push(asset),
    });
    for (const [i, name] of ['guardian-1', 'guardian-2'].entries()) {
      const dir = path.join(work, name);
      mkdirSync(dir, { recursive: true });
      guardians.push({ name, dir, deviceId: '', assets: sim.assets.filter((_, k) => k % 2 === i) });
    }
    // The identity key is made on the guardian; the operator reads the device id to claim.
    await Promise.all(guardians.map(async (g) => {
      const out = (await runCli(['guardian', 'id', '--data-dir', g.dir])).trim();
      if (!/^[0-9a-f]{64}$/.test(out)) throw new Error(`guardian id printed no device id:\n${out}`);
      g.deviceId = out;
      installBatchLedger(g.dir);
    }));

    serverConfig = path.join(work, 'server.yaml');
    writeFileSync(serverConfig, toYaml({
      dataDir: serverDir,
      caDir,
      mqtt: { host: '127.0.0.1', port: BROKER_PORT },
      api: { host: '127.0.0.1', port: API_PORT },
    }));
    relay = await startCuttableProxy({ port: RELAY_PORT, targetHost: '127.0.0.1', targetPort: BROKER_PORT });
  }, 120_000);

  afterAll(async () => {
    for (const p of [...guardians.map((g) => g.process), server]) {
      if (p?.running) await p.stop('SIGKILL');
    }
    await relay?.close();
    await sim?.stop();
    if (work && !process.env.SG_KEEP_SYSTEM_TEST_DIR) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('stores every batch and every sample exactly once across kill -9 of server and guardian and a network cut', async () => {
    const t0 = Date.now();
    const step = (label: string) => process.stdout.write(`[no-loss +${((Date.now() - t0) / 1000).toFixed(1)}s] ${label}\n`);
    const timeoutMs = 45_000;

    // 1. Telemetry flows.
    server = startServer();
    const [, adminToken] = await server.waitForLine(/^admin API token \(shown once, store it now\): (\S+)$/, 60_000);
    await server.waitForLine(/^API https:\/\//, 60_000);
    adminEnv = { SHELLGUARD_SERVER: API_URL, SHELLGUARD_TOKEN: adminToken!, SHELLGUARD_CA: rootFile };
    // Claim both guardians into a group and register the release they run: without this they
    // get no certificate and cannot connect at all.
    await admin(['group', 'create', GROUP, '--site', SITE, '--min-version', '0.1.0']);
    await Promise.all(guardians.map((g) => admin(['device', 'claim', g.deviceId, '--site', SITE, '--group', GROUP])));
    for (const g of guardians) await registerRelease(g, 'flow');
    step('claimed and release registered');
    for (const g of guardians) g.process = startGuardian(g, 'flow');
    await waitFor('both guardians have batches stored', () => guardians.every((g) => storedBatches(g) >= PROGRESS), { timeoutMs, diagnostics });
    const byId = (a: { deviceId: string }, b: { deviceId: string }) => a.deviceId.localeCompare(b.deviceId);
    const fleet = JSON.parse(await admin(['device', 'list', '--json'])) as { deviceId: string; state: string; lastAttestation?: { result: string } }[];
    expect(fleet.map((d) => ({ deviceId: d.deviceId, state: d.state, attestation: d.lastAttestation?.result })).sort(byId),
      'both guardians attested and hold operational certificates')
      .toEqual(guardians.map((g) => ({ deviceId: g.deviceId, state: 'claimed', attestation: 'pass' })).sort(byId));
    step('flowing');

    // 2. kill -9 the server; the guardians keep reading and queue on disk.
    await server.stop('SIGKILL');
    const atServerDeath = nextSeqs();
    await sleep(3_000);
    await waitFor('guardians queue while the server is dead', () => nextSeqs().every((s, i) => s >= atServerDeath[i]! + PROGRESS), { timeoutMs, diagnostics });
    for (const g of guardians) expect(readQueueState(g.dir).pendingBatches).toBeGreaterThanOrEqual(PROGRESS);
    step('server killed; guardians queued');

    // 3. The server comes back on the same data and ports; the backlog is delivered.
    server = startServer();
    await server.waitForLine(/^API https:\/\//, 60_000);
    const atServerRestart = nextSeqs();
    await waitFor('the backlog is acknowledged after the server restart',
      () => guardians.every((g, i) => settledBelow(g.dir, atServerRestart[i]!)), { timeoutMs, diagnostics });
    step('server restarted; backlog delivered');

    // 4. kill -9 a guardian mid-flow and start it again on the same queue.
    const g1 = guardians[0]!;
    await g1.process!.stop('SIGKILL');
    const atGuardianDeath = readQueueState(g1.dir).nextSeq;
    await sleep(1_000);
    g1.process = startGuardian(g1, 'flow');
    await waitFor('the restarted guardian sends new and old batches', () =>
      readQueueState(g1.dir).nextSeq >= atGuardianDeath + PROGRESS && settledBelow(g1.dir, atGuardianDeath + PROGRESS),
    { timeoutMs, diagnostics });
    step('guardian killed and restarted');

    // 5. The link fails: first the server's replies stop getting through (batches keep arriving
    // and are stored, but their acks are lost), then every connection is reset and refused for a
    // while. The batches stored during the hold must be redelivered and recognised as duplicates.
    const storedTotal = (): number => guardians.reduce((n, g) => n + storedBatches(g), 0);
    relay!.holdReplies();
    const atHold = storedTotal();
    await waitFor('batches are stored while their acks are held back', () => storedTotal() >= atHold + PROGRESS, { timeoutMs, diagnostics });
    relay!.cut();
    const storedWhileAcksHeld = storedTotal() - atHold;
    const atCut = nextSeqs();
    await sleep(5_000);
    await waitFor('guardians queue during the cut', () => nextSeqs().every((s, i) => s >= atCut[i]! + PROGRESS), { timeoutMs, diagnostics });
    relay!.restore();
    const atRestore = nextSeqs();
    await waitFor('the backlog is acknowledged after the network is back',
      () => guardians.every((g, i) => settledBelow(g.dir, atRestore[i]!)), { timeoutMs, diagnostics });
    step('network cut and restored');

    // 6. Stop reading: stop each guardian, start it once more polling only once, let its queue drain.
    for (const g of guardians) {
      const exit = await g.process!.stop('SIGTERM');
      expect(exit, `${g.name} stops cleanly on SIGTERM`).toEqual({ code: 0, signal: null });
    }
    const beforeDrain = nextSeqs();
    // The drain config is another config of the same release: register it before the guardians
    // run with it, so any attestation they make with it passes.
    for (const g of guardians) await registerRelease(g, 'drain');
    for (const g of guardians) g.process = startGuardian(g, 'drain');
    await waitFor('every guardian queue is empty after its final poll', () => guardians.every((g, i) => {
      const q = readQueueState(g.dir);
      return q.nextSeq === beforeDrain[i]! + g.assets.length && q.pendingBatches === 0;
    }), { timeoutMs, diagnostics });
    for (const g of guardians) {
      const exit = await g.process!.stop('SIGTERM');
      expect(exit, `${g.name} stops cleanly on SIGTERM`).toEqual({ code: 0, signal: null });
    }
    // The restarted server saw the guardian crash, the cut and the drain: it stored or recognised
    // every redelivery, failed no store and refused no message.
    const health = await getJson(`https://127.0.0.1:${API_PORT}/api/v1/health`, { caPem: readFileSync(rootFile, 'utf8'), token: adminToken! });
    expect(health.status).toBe(200);
    const ingest = (health.body as { ingest: { batchesStored: number; batchesDuplicate: number; storeFailures: number; rejected: Record<string, number> } }).ingest;
    expect(ingest).toMatchObject({ storeFailures: 0, rejected: {} });
    expect(ingest.batchesDuplicate, 'redelivered batches recognised as already stored').toBeGreaterThanOrEqual(storedWhileAcksHeld);
    step(`restarted server: ${ingest.batchesStored} batches stored, ${ingest.batchesDuplicate} redelivered duplicates recognised`);
    const serverExit = await server.stop('SIGTERM');
    expect(serverExit, 'the server stops cleanly on SIGTERM').toEqual({ code: 0, signal: null });
    step('drained and stopped');

    // Proof by sequence: each guardian's seqs 1..next_seq-1, each given to one batch, each stored once.
    const stored = readStoredBatches(serverDir);
    expect([...stored.keys()].sort()).toEqual(guardians.map((g) => g.deviceId).sort());
    const ledgers = new Map<string, LedgerBatch[]>();
    for (const g of guardians) {
      const q = readQueueState(g.dir);
      expect(q, `${g.name} queue`).toMatchObject({ pendingBatches: 0, rejectedBatches: 0, overflowedBatches: 0 });
      const ledger = readLedger(g.dir);
      ledgers.set(g.name, ledger);
      const allSeqs = Array.from({ length: q.nextSeq - 1 }, (_, k) => k + 1);
      expect(ledger.map((b) => b.seq), `${g.name}: every seq was given to exactly one committed batch`).toEqual(allSeqs);
      const mine = stored.get(g.deviceId)!;
      expect([...mine.keys()].sort((a, b) => a - b), `${g.name}: every committed seq is stored`).toEqual(allSeqs);
      const wrongCounts = ledger.filter((b) => mine.get(b.seq) !== b.sampleCount).map((b) => b.seq);
      expect(wrongCounts, `${g.name}: batches stored with another sample count`).toEqual([]);
    }

    // Proof by content: the stored samples are exactly the samples the guardians committed.
    const key = (asset: string, point: string, ts: number, value: unknown, quality: number) =>
      `${asset}|${point}|${ts}|${value === true ? 1 : value === false ? 0 : String(value)}|${quality}`;
    const expected = new Map<string, number>();
    let expectedTotal = 0;
    for (const ledger of ledgers.values()) {
      for (const b of ledger) {
        for (const s of b.samples) {
          const k = key(b.asset, s.point, s.ts, s.value, s.quality);
          expected.set(k, (expected.get(k) ?? 0) + 1);
          expectedTotal += 1;
        }
      }
    }
    const telemetry = await readStoredTelemetry(serverDir);
    expect(telemetry.rowCount, 'stored rows equal the samples of the stored batches').toBe(telemetry.batchSampleTotal);
    expect(telemetry.rowCount).toBe(expectedTotal);
    const actual = new Map<string, number>();
    for (const s of telemetry.samples) {
      expect(s.site).toBe(SITE);
      const k = key(s.asset, s.point, s.ts, s.value, s.quality);
      actual.set(k, (actual.get(k) ?? 0) + 1);
    }
    const missing = [...expected].filter(([k, n]) => (actual.get(k) ?? 0) < n).map(([k]) => k);
    const extra = [...actual].filter(([k, n]) => (expected.get(k) ?? 0) < n).map(([k]) => k);
    expect(missing.slice(0, 10), `${missing.length} samples read but not stored`).toEqual([]);
    expect(extra.slice(0, 10), `${extra.length} samples stored more often than read`).toEqual([]);
    expect(writes, 'write requests received by the simulated equipment').toEqual([]);
    step(`verified ${[...ledgers.values()].reduce((n, l) => n + l.length, 0)} batches, ${expectedTotal} samples`);
  }, 230_000);
});
