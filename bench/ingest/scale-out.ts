/**
 * bench/ingest --mode scale-out (issue 12): the same simulated-guardian load as the embedded bench
 * (load-guardians.ts: MQTT over mutual TLS, births, one poll of one asset per batch, a window of
 * unacknowledged batches), for the same time, against three layouts in one run, one after another:
 *
 *   1. embedded     one `shellguard server` on SQLite with its embedded broker;
 *   2. scale-out ×1 PostgreSQL + Mosquitto (mqtt.external) + nats-server (bus: jetstream) + one replica;
 *   3. scale-out ×2 the same with two replicas (shared audit key; own dataDir, API port, broker username).
 *
 * For each: acked points/s (durably stored; whole run and per minute), CPU seconds of every process
 * over the load (/proc/<pid>/stat utime+stime; PostgreSQL: the backends of the run's database) and
 * the servers' peak RSS, and reads through the API of a point holding 24 h of 1 Hz history (seeded
 * before the start; raw day and its 1-min buckets, p50/p99, while ingesting). Scale-out also: how
 * far the evaluating (leading) replica lags behind what was stored — the evaluate consumers' pending
 * messages on JetStream during the run, and at the end `alarm_handled_messages` against stored
 * batches in PostgreSQL and how long after the load stopped until they matched.
 *
 *   npm run bench:ingest -- --mode scale-out [--minutes 3 | --seconds N] [--guardians 8] [--points 20000]
 *     [--window 64] [--poll-ms 100] [--polls-per-batch 1] [--layouts embedded,scale-out-1,scale-out-2]
 *     [--catch-up-seconds N] [--partitions 32] [--keep]
 *   (duration per layout; a run shorter than 10 minutes is labelled short)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import pg from 'pg';
import { FileKeyStore, GUARDIAN_SWNAME, enrol } from '@shellguard/guardian';
import { Quality, controlTopic, type Measurement, type Sample } from '@shellguard/protocol';
import {
  PostgresTelemetryStore, SqliteTelemetryStore, freeLoopbackPort, generateMosquittoConfig, initPki, loadProfiles, migrateServerDatabase,
  openPki, openPostgresDatabase, startMosquitto, type IncomingBatch, type MosquittoProcess, type Pki,
} from '@shellguard/server';
import { NatsServerProcess, openSqliteSqlDatabase, testPostgresUrl } from '@shellguard/server/testing';
import { apiClient, flag, hasFlag, peakRssMiB, quantile, textFlag, type ApiResponse } from './bench-support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const seconds = hasFlag('seconds') ? flag('seconds', 60) : flag('minutes', 3) * 60;
const guardians = flag('guardians', 8);
const targetPoints = flag('points', 20_000);
const window = flag('window', 64);
const pollMs = flag('poll-ms', 100);
const pollsPerBatch = flag('polls-per-batch', 1);
const catchUpSeconds = flag('catch-up-seconds', Math.max(60, seconds));
const partitions = flag('partitions', 32);
const keep = hasFlag('keep');
type LayoutName = 'embedded' | 'postgres' | 'postgres-mosquitto' | 'scale-out-1' | 'scale-out-2';
const LAYOUTS: readonly LayoutName[] = ['embedded', 'postgres', 'postgres-mosquitto', 'scale-out-1', 'scale-out-2'];
const layouts = textFlag('layouts', 'embedded,scale-out-1,scale-out-2').split(',').map((l) => {
  if (!LAYOUTS.includes(l as LayoutName)) throw new Error(`--layouts: ${l} is not one of ${LAYOUTS.join(', ')}`);
  return l as LayoutName;
});

const PROFILES = ['ahu-generic', 'crah-generic', 'generator-generic', 'panel-generic', 'pdu-generic', 'ups-generic'];
const SITE = 'bench';
const DAY = 86_400_000;
const STREAM = 'SGBENCH';
const CLK_TCK = 100; // USER_HZ on Linux x86-64 (getconf CLK_TCK)
const READS = 50;

const catalog = loadProfiles();
const meanPoints = PROFILES.reduce((n, id) => n + catalog.get(id)!.points.length, 0) / PROFILES.length;
const assetsPerGuardian = Math.max(1, Math.round(targetPoints / meanPoints / guardians));
let points = 0;
for (let g = 0; g < guardians; g++) for (let i = 0; i < assetsPerGuardian; i++) points += catalog.get(PROFILES[(g * assetsPerGuardian + i) % PROFILES.length]!)!.points.length;
const historyProfile = catalog.get('ups-generic')!;
const historyPointName = historyProfile.points.find((p) => p.kind === 'analog')!.name;

const work = mkdtempSync(path.join(tmpdir(), 'sg-bench-scale-out-'));
const caDir = path.join(work, 'ca');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tsx = ['--import', 'tsx'];

// ---------------------------------------------------------------- processes and /proc

/** A child process whose stdout and stderr go to a log file, with its stdout also kept for matching. */
class LoggedChild {
  readonly child: ChildProcess;
  private seen = '';
  private readonly log: WriteStream;

  constructor(readonly name: string, readonly logFile: string, command: string, argv: string[], env: NodeJS.ProcessEnv) {
    this.log = createWriteStream(logFile);
    this.child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.log.write(d);
      this.seen = (this.seen + d.toString()).slice(-200_000);
    });
    this.child.stderr!.on('data', (d: Buffer) => this.log.write(d));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.seen.match(pattern);
        if (m) { done(); resolve(m); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: timed out waiting for ${pattern}; log in ${this.logFile}`)); }, timeoutMs);
      const onExit = (code: number | null) => { done(); reject(new Error(`${this.name} exited (${code}) before ${pattern}; log in ${this.logFile}:\n${this.tail()}`)); };
      const done = () => { clearTimeout(timer); this.child.stdout!.off('data', check); this.child.off('exit', onExit); };
      this.child.stdout!.on('data', check);
      this.child.once('exit', onExit);
      check();
    });
  }

  tail(chars = 3000): string {
    try {
      const text = readFileSync(this.logFile, 'utf8');
      return text.slice(-chars);
    } catch {
      return '(no log)';
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    const killer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(killer);
    await new Promise((r) => this.log.end(r));
    return code;
  }
}

/** utime + stime of a process, seconds (undefined once it is gone). */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of proc(5)
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3]! - f[4]!) / CLK_TCK;
}

/** The pid of the process whose command line holds `needle` (nats-server is started by a helper that keeps its pid). */
function pidOf(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch { /* gone */ }
  }
  return undefined;
}

// ---------------------------------------------------------------- HTTPS API

const api = apiClient(16);
let rootPem = '';
const request = (method: 'GET' | 'POST', url: string, token: string, body?: unknown): Promise<ApiResponse> => api.request(method, url, token, rootPem, body);

// ---------------------------------------------------------------- the 24 h history

/** One UPS reporting once a second for a day (ending an hour ago), 100 polls per batch list. */
function* historyDay(): Generator<IncomingBatch[]> {
  const start = Date.now() - DAY - 3_600_000;
  let level = 230;
  let seq = 0;
  for (let s = 0; s < 86_400; s += 100) {
    const batches: IncomingBatch[] = [];
    for (let k = s; k < s + 100; k++) {
      level += (Math.random() - 0.5) * 0.1;
      const samples: Sample[] = historyProfile.points.map((p) => ({
        point: p.name, ts: start + k * 1000 + Math.floor(Math.random() * 4),
        value: p.kind === 'binary' ? false : Math.round((level + Math.random() * 0.3) * 10) / 10, quality: Quality.good,
      }));
      batches.push({ deviceId: 'history', site: SITE, asset: 'HIST-UPS', epoch: 'seed', seq: ++seq, samples });
    }
    yield batches;
  }
}

/** The SQLite file the embedded server finds migrated and holding the day, sealed. Returns the point id. */
async function seedSqlite(dataDir: string): Promise<number> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const database = openSqliteSqlDatabase(path.join(dataDir, 'shellguard.sqlite'));
  await migrateServerDatabase(database);
  const store = new SqliteTelemetryStore(database, { readWorkers: 0 });
  let n = 0;
  for (const batches of historyDay()) {
    await store.appendBatches(batches);
    if (++n % 36 === 0) await store.sealSome();
  }
  await store.sealAll();
  await store.checkpoint();
  const id = store.findPointId(SITE, 'HIST-UPS', historyPointName)!;
  await store.close();
  await database.close();
  return id;
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: testPostgresUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * A PostgreSQL database migrated and holding the day in chunks, through the server's own store:
 * each scale-out layout starts from a copy of it (CREATE DATABASE … TEMPLATE).
 */
async function seedPostgresTemplate(name: string): Promise<number> {
  await adminQuery(`CREATE DATABASE ${name}`);
  const database = openPostgresDatabase({ url: testPostgresUrl(name), maxConnections: 4, applicationName: 'bench-ingest-seed' });
  try {
    await migrateServerDatabase(database);
    const store = await PostgresTelemetryStore.open(database);
    for (const batches of historyDay()) await store.appendBatches(batches);
    while (!(await store.compactAll()).ran) await sleep(100);
    const id = store.findPointId(SITE, 'HIST-UPS', historyPointName)!;
    await store.close();
    return id;
  } finally {
    await database.close();
  }
}

// ---------------------------------------------------------------- layouts

interface ServerProcess {
  name: string;
  proc: LoggedChild;
  apiBase: string;
}

interface Deployment {
  layout: LayoutName;
  label: string;
  servers: ServerProcess[];
  token: string;
  mqttUrl: string;
  /** Processes besides the servers whose CPU counts (broker, bus). */
  others: { name: string; pid: number }[];
  /** On PostgreSQL: the run's database; with the bus, its monitoring port. */
  database?: string;
  natsMonitorPort?: number;
  /** Devices connect to Mosquitto, which grants their rights a moment after attestation. */
  externalBroker?: boolean;
  stop(): Promise<void>;
}

function startServerProcess(name: string, dir: string, config: Record<string, unknown>): LoggedChild {
  const configFile = path.join(dir, `${name}.yaml`);
  // JSON is YAML. Each simulated guardian carries the load of many real ones (as in run.ts).
  writeFileSync(configFile, `${JSON.stringify({ ...config, quotas: { messagesPerSecond: 10_000_000, messageBurst: 10_000_000 } }, null, 2)}\n`);
  return new LoggedChild(name, path.join(dir, `${name}.log`), process.execPath, [...tsx, path.join(ROOT, 'packages/cli/src/main.ts'), 'server', '--config', configFile], {
    ...process.env, SHELLGUARD_LOG_LEVEL: 'info',
  });
}

const API_LINE = /API https:\/\/127\.0\.0\.1:(\d+)\/api\/v1 +broker mqtts:\/\/[^:]+:(\d+)/;
const TOKEN_LINE = /admin API token \(shown once, store it now\): (\S+)/;

async function startEmbedded(dir: string, dataDir: string): Promise<Deployment> {
  const proc = startServerProcess('server', dir, {
    dataDir, caDir, mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
  });
  try {
    const m = await proc.waitForLine(API_LINE, 180_000);
    const token = (await proc.waitForLine(TOKEN_LINE, 1_000))[1]!;
    return {
      layout: 'embedded', label: 'embedded (SQLite, embedded broker)', token,
      servers: [{ name: 'server', proc, apiBase: `https://127.0.0.1:${m[1]}/api/v1` }],
      mqttUrl: `mqtts://127.0.0.1:${m[2]}`, others: [],
      async stop() { await proc.stop(); },
    };
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
}

/** A layout on PostgreSQL: the scale-out ones, and (to see where time goes) one server without the bus. */
interface PostgresLayout { replicas: number; mosquitto: boolean; bus: boolean; label: string }

const POSTGRES_LAYOUTS: Record<Exclude<LayoutName, 'embedded'>, PostgresLayout> = {
  'postgres': { replicas: 1, mosquitto: false, bus: false, label: 'PostgreSQL, embedded broker, no bus (1 server)' },
  'postgres-mosquitto': { replicas: 1, mosquitto: true, bus: false, label: 'PostgreSQL + Mosquitto, no bus (1 server)' },
  'scale-out-1': { replicas: 1, mosquitto: true, bus: true, label: 'scale-out, 1 replica (PostgreSQL, Mosquitto, JetStream)' },
  'scale-out-2': { replicas: 2, mosquitto: true, bus: true, label: 'scale-out, 2 replicas (PostgreSQL, Mosquitto, JetStream)' },
};

async function startOnPostgres(layout: Exclude<LayoutName, 'embedded'>, dir: string, template: string, pki: Pki): Promise<Deployment> {
  const { replicas, mosquitto: withMosquitto, bus, label } = POSTGRES_LAYOUTS[layout];
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => process.stderr.write(`\nstopping: ${(err as Error).message}\n`));
  };
  try {
    const database = `sg_bench_${layout.replace(/-/g, '_')}_${process.pid}`;
    await adminQuery(`CREATE DATABASE ${database} TEMPLATE ${template}`);
    stops.push(() => adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    const others: Deployment['others'] = [];
    let nats: NatsServerProcess | undefined;
    if (bus) {
      const started = await NatsServerProcess.start({ name: `bench-ingest-${layout}` });
      nats = started;
      stops.push(() => started.destroy());
      const natsPid = pidOf(started.configFile);
      if (natsPid) others.push({ name: 'nats-server', pid: natsPid });
    }
    // Each replica has its own name on the broker (its certificate CN), all in the server group.
    const usernames = Array.from({ length: replicas }, (_, i) => `shellguard-replica-${i + 1}`);
    let external: ((i: number) => Record<string, unknown>) | undefined;
    let brokerPort = 0;
    if (withMosquitto) {
      const brokerCert = await pki.issueServerCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'], validityDays: 30 });
      brokerPort = await freeLoopbackPort();
      const files = generateMosquittoConfig({
        dir: path.join(dir, 'mosquitto'), host: '127.0.0.1', port: brokerPort,
        serverCertificate: { chainPem: brokerCert.chainPem, keyPem: brokerCert.keyPem },
        trustAnchorPems: [pki.rootPem], crlPems: await pki.generateCrls([]),
        serverUsernames: usernames,
        // As root mosquitto would drop to the `mosquitto` account, which cannot read this folder.
        user: userInfo().username,
        logFile: path.join(dir, 'mosquitto.log'),
      });
      const mosquitto: MosquittoProcess = await startMosquitto({ configFile: files.configFile, host: '127.0.0.1', port: brokerPort });
      stops.push(() => mosquitto.stop());
      others.unshift({ name: 'mosquitto', pid: mosquitto.pid });
      external = (i) => ({ url: `mqtts://127.0.0.1:${brokerPort}`, username: usernames[i], caFile: files.caFile, crlFile: files.crlFile, pidFile: files.pidFile });
    }
    const sharedDir = path.join(dir, 'shared');
    mkdirSync(sharedDir, { recursive: true, mode: 0o700 });
    const servers: ServerProcess[] = [];
    let token = '';
    // One after another: the first migrates (nothing to do on the copy), creates the audit key and prints the admin token.
    for (let i = 0; i < replicas; i++) {
      const name = `replica-${i + 1}`;
      const apiPort = await freeLoopbackPort();
      const proc = startServerProcess(name, dir, {
        dataDir: path.join(dir, name), caDir,
        database: { engine: 'postgres', url: testPostgresUrl(database) },
        mqtt: { host: '127.0.0.1', port: 0, ...(external ? { external: external(i) } : {}) },
        api: { host: '127.0.0.1', port: apiPort },
        audit: { keyFile: path.join(sharedDir, 'audit.key') },
        ...(nats ? { bus: { engine: 'jetstream', url: nats.url, stream: STREAM, partitions } } : {}),
      });
      stops.push(async () => { await proc.stop(); });
      const m = await proc.waitForLine(API_LINE, 180_000);
      if (i === 0) token = (await proc.waitForLine(TOKEN_LINE, 1_000))[1]!;
      if (!withMosquitto) brokerPort = Number(m[2]);
      servers.push({ name, proc, apiBase: `https://127.0.0.1:${apiPort}/api/v1` });
    }
    const deployment: Deployment = {
      layout, label, servers, token, mqttUrl: `mqtts://127.0.0.1:${brokerPort}`, others, database,
      ...(nats ? { natsMonitorPort: nats.monitorPort } : {}),
      externalBroker: withMosquitto,
      stop: stopAll,
    };
    // Every replica knows the others (device affinity) and exactly one leads, before any load.
    if (bus) {
      await waitUntil('one active replica, every replica seeing all of them', 90_000, async () => {
        const hs = await Promise.all(servers.map((s) => health(deployment, s)));
        return hs.filter((h) => h.replica?.role === 'active').length === 1 && hs.every((h) => (h.replica?.replicas?.length ?? 0) === replicas);
      }, () => servers.map((s) => `${s.name}: ${s.proc.tail(800)}`).join('\n'));
    }
    return deployment;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface Health {
  samplesStored: number;
  batchesStored: number;
  replica?: { role: string; id: string; replicas?: string[]; leftToOthers?: number };
}

async function health(d: Deployment, s: ServerProcess): Promise<Health> {
  const r = await request('GET', `${s.apiBase}/health`, d.token);
  if (r.status !== 200) throw new Error(`${s.name}: GET /health ${r.status} ${r.text.slice(0, 200)}`);
  return (JSON.parse(r.text) as { ingest: Health }).ingest;
}

async function waitUntil(what: string, timeoutMs: number, test: () => Promise<boolean>, diagnostics?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await test().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}${diagnostics ? `\n${diagnostics()}` : ''}`);
    await sleep(250);
  }
}

// ---------------------------------------------------------------- guardians

interface LoadDevice { deviceId: string; keyFile: string; certFile: string }

/** Claims and attests `guardians` simulated guardians through the first server's API. */
async function enrolGuardians(d: Deployment, dir: string): Promise<LoadDevice[]> {
  const base = d.servers[0]!.apiBase;
  const api = async (route: string, body: unknown) => {
    const r = await request('POST', `${base}${route}`, d.token, body);
    if (r.status >= 300) throw new Error(`POST ${route}: ${r.status} ${r.text}`);
  };
  const measurements: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles']
    .map((component) => ({ component, digest: createHash('sha256').update(`bench ${component}`).digest('hex') }));
  await api('/groups', { id: 'bench', site: SITE, minSecureVersion: '0.1.0' });
  await api('/groups/bench/releases', { swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: measurements });
  const devices: LoadDevice[] = [];
  for (let i = 0; i < guardians; i++) {
    const gdir = path.join(dir, `g${i}`);
    const keys = await FileKeyStore.open(gdir);
    await api('/claims', { deviceId: keys.deviceId, site: SITE, group: 'bench' });
    const enrolment = await enrol({
      apiUrl: base.replace(/\/api\/v1$/, ''), rootCaPem: rootPem, keyStore: keys, measurements,
      swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
    });
    const certFile = path.join(gdir, 'cert.pem');
    writeFileSync(certFile, enrolment.certificatePem);
    devices.push({ deviceId: keys.deviceId, keyFile: path.join(gdir, 'identity.key'), certFile });
  }
  return devices;
}

/** Mosquitto grants a device its rights a moment after it passed attestation: until it may subscribe to its acks. */
async function waitForAccess(url: string, device: LoadDevice): Promise<void> {
  await waitUntil(`the broker grants ${device.deviceId} its rights`, 30_000, async () => {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4, clientId: device.deviceId, reconnectPeriod: 0, connectTimeout: 5_000,
      ca: rootPem, cert: readFileSync(device.certFile), key: readFileSync(device.keyFile),
    });
    try {
      const granted = await client.subscribeAsync(controlTopic(device.deviceId, 'down', 'ack'));
      return granted[0]!.qos < 0x80;
    } finally {
      await client.endAsync(true);
    }
  });
}

// ---------------------------------------------------------------- one layout under load

interface ReadPhase { p50: number; p99: number; ingestRate: number; through: string; afterLoad: boolean }

interface LayoutResult {
  layout: LayoutName;
  label: string;
  ackedSamples: number;
  ackedBatches: number;
  elapsedS: number;
  perMinute: number[];
  /** Acks from the server that refused batches (the load generator logs each). */
  refusals: number;
  cpu: { name: string; seconds: number }[];
  /** Wall time the CPU figures cover (the load, from its start to its last ack). */
  cpuWallS: number;
  peakRss: { name: string; mib: number }[];
  machineBusy: number;
  raw?: ReadPhase;
  buckets?: ReadPhase;
  /** Scale-out: the evaluate consumers' pending messages, sampled during the load. */
  pendingMax?: number;
  pendingAtEnd?: number;
  storedBatches?: number;
  storedSamples?: number;
  handledAtEnd?: number;
  caughtUpAfterS?: number;
  drainRate?: number;
  handledFinal?: number;
  deadLetters?: number;
  roles?: string;
  leftToOthers?: string;
}

/** Messages the evaluating replica has yet to finish, and the dead letters, from nats-server's monitoring. */
async function busBacklog(monitorPort: number): Promise<{ pending: number; deadLetters: number }> {
  const r = await fetch(`http://127.0.0.1:${monitorPort}/jsz?accounts=true&streams=true&consumers=true`);
  const body = await r.json() as { account_details?: { stream_detail?: { name: string; state: { messages: number }; consumer_detail?: { name: string; num_pending: number; num_ack_pending: number }[] }[] }[] };
  let pending = 0;
  let deadLetters = 0;
  for (const account of body.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) {
      if (stream.name === `${STREAM}_DEAD_LETTERS`) deadLetters += stream.state.messages;
      for (const c of stream.consumer_detail ?? []) {
        if (c.name.startsWith(`${STREAM}-evaluate`)) pending += c.num_pending + c.num_ack_pending;
      }
    }
  }
  return { pending, deadLetters };
}

/** CPU of the PostgreSQL backends serving `database`: each backend's utime+stime, from when it was first seen. */
class BackendCpu {
  private readonly start = new Map<number, number>();
  private readonly last = new Map<number, number>();
  constructor(private readonly client: pg.Client, private readonly database: string) {}

  async sample(first = false): Promise<void> {
    const r = await this.client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [this.database]);
    for (const { pid } of r.rows) {
      const cpu = cpuSeconds(pid);
      if (cpu === undefined) continue;
      if (!this.start.has(pid)) this.start.set(pid, first ? cpu : 0);
      this.last.set(pid, cpu);
    }
  }

  seconds(): number {
    let total = 0;
    for (const [pid, cpu] of this.last) total += cpu - this.start.get(pid)!;
    return total;
  }
}

async function runLayout(d: Deployment, dir: string, historyPoint: number): Promise<LayoutResult> {
  const started0 = Date.now();
  const devices = await enrolGuardians(d, dir);
  if (d.externalBroker) for (const device of devices) await waitForAccess(d.mqttUrl, device);
  process.stderr.write(`${d.label}: ${devices.length} guardians enrolled in ${((Date.now() - started0) / 1000).toFixed(0)} s\n`);
  const pgClient = d.database ? new pg.Client({ connectionString: testPostgresUrl(d.database) }) : undefined;
  await pgClient?.connect();
  const counts = async () => {
    const b = await pgClient!.query<{ n: string; s: string | null }>("SELECT COUNT(*) AS n, SUM(samples) AS s FROM batch_rows WHERE device_id <> 'history'");
    const h = await pgClient!.query<{ n: string }>('SELECT COUNT(*) AS n FROM alarm_handled_messages');
    return { batches: Number(b.rows[0]!.n), samples: Number(b.rows[0]!.s ?? 0), handled: Number(h.rows[0]!.n) };
  };
  try {
    const specFile = path.join(dir, 'load.json');
    writeFileSync(specFile, JSON.stringify({
      url: d.mqttUrl, caFile: path.join(caDir, 'root.crt'), site: SITE, devices,
      durationMs: seconds * 1000, assets: assetsPerGuardian, profiles: PROFILES, window, pollMs, pollsPerBatch,
      // On PostgreSQL, live sample times (a minute back), so they land in the current raw window as a
      // real guardian's do; two hours back (run.ts's offset) they would all go to samples_late.
      ...(d.database ? { startAgoMs: 60_000 } : {}),
    }));
    const backends = pgClient && d.database ? new BackendCpu(pgClient, d.database) : undefined;
    await backends?.sample(true);
    const tracked = [...d.servers.map((s) => ({ name: s.name, pid: s.proc.pid })), ...d.others];
    const cpu0 = new Map(tracked.map((t) => [t.name, cpuSeconds(t.pid) ?? 0]));
    const busy0 = machineBusySeconds();
    const cpuFrom = performance.now();
    const load = new LoggedChild('load', path.join(dir, 'load.log'), process.execPath, [...tsx, path.join(ROOT, 'bench/ingest/load-guardians.ts'), specFile], process.env);
    const loadCpu = { seconds: 0 };
    let totals: { total: { ackedSamples: number; ackedBatches: number; elapsedMs: number }; perMinute: number[] } | undefined;
    let lastMinute = '';
    const loadDone = new Promise<void>((resolve, reject) => {
      let buf = '';
      load.child.stdout!.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const o = JSON.parse(buf.slice(0, i)) as { minute?: number; samples?: number; total?: unknown };
          buf = buf.slice(i + 1);
          if (o.minute !== undefined) lastMinute = `, minute ${o.minute}: ${fmt(o.samples! / 60)} points/s`;
          else if (o.total) totals = o as typeof totals;
        }
      });
      load.child.once('exit', (code) => (code === 0 && totals ? resolve() : reject(new Error(`load generator exited ${code}: ${load.tail()}`))));
    });
    const t0 = Date.now();
    let pendingMax = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sleep(5_000);
        if (!sampling) break;
        loadCpu.seconds = cpuSeconds(load.pid) ?? loadCpu.seconds;
        await backends?.sample().catch(() => undefined);
        if (d.natsMonitorPort) pendingMax = Math.max(pendingMax, (await busBacklog(d.natsMonitorPort).catch(() => ({ pending: 0 }))).pending);
      }
    })();
    const bar = setInterval(() => {
      const f = Math.min(1, (Date.now() - t0) / (seconds * 1000));
      process.stderr.write(`\r${d.layout} [${'#'.repeat(Math.round(f * 30)).padEnd(30)}] ${(f * 100).toFixed(0)}%${lastMinute}${pendingMax ? `, bus backlog up to ${fmt(pendingMax)}` : ''}    `);
    }, 1000);

    // Reads while ingesting, after 40% of the run, through the last server (the standby, with two).
    const reader = d.servers[d.servers.length - 1]!;
    const stored = async () => (await Promise.all(d.servers.map((s) => health(d, s)))).reduce((n, h) => n + h.samplesStored, 0);
    const readPhase = async (query: string): Promise<ReadPhase> => {
      const first = await request('GET', `${reader.apiBase}/points/${historyPoint}/samples?from=-25h&to=now&${query}`, d.token);
      if (first.status !== 200) throw new Error(`read failed: ${first.status} ${first.text.slice(0, 200)}`);
      const role = (await health(d, reader)).replica?.role ?? 'active';
      const before = await stored();
      const s0 = performance.now();
      const times: number[] = [];
      for (let i = 0; i < READS; i++) {
        const s = performance.now();
        const r = await request('GET', `${reader.apiBase}/points/${historyPoint}/samples?from=-25h&to=now&${query}`, d.token);
        if (r.status !== 200) throw new Error(`read failed: ${r.status} ${r.text.slice(0, 200)}`);
        times.push(performance.now() - s);
      }
      const rate = ((await stored()) - before) / ((performance.now() - s0) / 1000);
      times.sort((a, b) => a - b);
      return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), ingestRate: rate, through: `${reader.name} (${role})`, afterLoad: Date.now() - t0 > seconds * 1000 };
    };
    await sleep(Math.max(10_000, seconds * 400));
    const raw = await readPhase('limit=100000');
    const buckets = await readPhase('bucket=1m');
    await loadDone;
    const loadEnd = Date.now();
    sampling = false;
    clearInterval(bar);
    await sampler;
    await backends?.sample();
    const cpu = tracked.map((t) => ({ name: t.name, seconds: (cpuSeconds(t.pid) ?? 0) - cpu0.get(t.name)! }));
    cpu.push({ name: 'load generator', seconds: loadCpu.seconds });
    if (backends) cpu.push({ name: 'PostgreSQL backends', seconds: backends.seconds() });
    const machineBusy = machineBusySeconds() - busy0;
    const cpuWallS = (performance.now() - cpuFrom) / 1000;
    const peakRss = d.servers.map((s) => ({ name: s.name, mib: peakRssMiB(s.proc.pid) }));
    process.stderr.write('\n');
    const t = totals!.total;
    await sleep(200); // the load's last stderr lines reach its log
    const refusals = (readFileSync(load.logFile, 'utf8').match(/^refused: /gm) ?? []).length;
    const result: LayoutResult = {
      refusals,
      layout: d.layout, label: d.label, ackedSamples: t.ackedSamples, ackedBatches: t.ackedBatches, elapsedS: t.elapsedMs / 1000,
      perMinute: totals!.perMinute.slice(0, Math.floor(seconds / 60)).map((s) => s / 60), cpu, cpuWallS, peakRss, machineBusy, raw, buckets,
    };
    if (pgClient && !d.natsMonitorPort) {
      const atEnd = await counts();
      result.storedBatches = atEnd.batches;
      result.storedSamples = atEnd.samples;
    }
    if (d.natsMonitorPort && pgClient) {
      const hs = await Promise.all(d.servers.map((s) => health(d, s)));
      result.roles = d.servers.map((s, i) => `${s.name} ${hs[i]!.replica?.role}`).join(', ');
      result.leftToOthers = d.servers.map((s, i) => `${s.name} ${fmt(hs[i]!.replica?.leftToOthers ?? 0)}`).join(', ');
      result.pendingMax = pendingMax;
      result.pendingAtEnd = (await busBacklog(d.natsMonitorPort)).pending;
      const atEnd = await counts();
      const atEndAt = Date.now();
      result.storedBatches = atEnd.batches;
      result.storedSamples = atEnd.samples;
      result.handledAtEnd = atEnd.handled;
      // Until every stored batch is evaluated (its id in alarm_handled_messages), or the cap.
      process.stderr.write(`${d.layout}: the evaluating replica is ${fmt(atEnd.batches - atEnd.handled)} batches behind; waiting up to ${catchUpSeconds} s\n`);
      const deadline = loadEnd + catchUpSeconds * 1000;
      let last = atEnd;
      for (;;) {
        const { pending } = await busBacklog(d.natsMonitorPort);
        if (pending === 0) {
          last = await counts();
          if (last.handled >= last.batches) { result.caughtUpAfterS = (Date.now() - loadEnd) / 1000; break; }
        }
        if (Date.now() > deadline) { last = await counts(); break; }
        process.stderr.write(`\r${d.layout}: bus backlog ${fmt(pending)}    `);
        await sleep(1_000);
      }
      process.stderr.write('\n');
      result.handledFinal = last.handled;
      result.drainRate = (last.handled - atEnd.handled) / ((Date.now() - atEndAt) / 1000);
      result.deadLetters = (await busBacklog(d.natsMonitorPort)).deadLetters;
    }
    return result;
  } finally {
    await pgClient?.end();
  }
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  const pki = await initPki(caDir, { commonName: 'bench scale-out' });
  rootPem = pki.rootPem;
  const results: LayoutResult[] = [];
  let historyPoint = { sqlite: 0, postgres: 0 };
  const template = `sg_bench_scale_out_seed_${process.pid}`;
  const wantsPostgres = layouts.some((l) => l !== 'embedded');
  try {
    const seed0 = Date.now();
    if (layouts.includes('embedded')) {
      process.stderr.write('seeding 24 h of 1 Hz history for one UPS into SQLite...\n');
      historyPoint.sqlite = await seedSqlite(path.join(work, 'embedded', 'server'));
    }
    if (wantsPostgres) {
      process.stderr.write(`seeding the same into PostgreSQL (${template}, copied for each scale-out layout)...\n`);
      historyPoint = { ...historyPoint, postgres: await seedPostgresTemplate(template) };
    }
    process.stderr.write(`seeded in ${((Date.now() - seed0) / 1000).toFixed(0)} s\n`);
    for (const layout of layouts) {
      const dir = path.join(work, layout);
      mkdirSync(dir, { recursive: true });
      const d = layout === 'embedded'
        ? await startEmbedded(dir, path.join(dir, 'server'))
        : await startOnPostgres(layout, dir, template, await openPki(caDir));
      try {
        results.push(await runLayout(d, dir, layout === 'embedded' ? historyPoint.sqlite : historyPoint.postgres));
      } catch (err) {
        process.stderr.write(`\n${layout} failed; logs in ${dir}\n${d.servers.map((s) => `--- ${s.name} (${s.proc.running ? 'running' : `exited ${s.proc.child.exitCode ?? s.proc.child.signalCode}`})\n${s.proc.tail(2000)}`).join('\n')}\n`);
        throw err;
      } finally {
        await d.stop();
      }
      if (layout === 'embedded') {
        // The embedded server's own tables, after it stopped: what it stored of the load.
        const db = new Database(path.join(dir, 'server', 'shellguard.sqlite'), { readonly: true });
        const row = db.prepare("SELECT COUNT(*) AS n, SUM(samples) AS s FROM batch_rows WHERE device_id <> 'history'").get() as { n: number; s: number } | undefined;
        db.close();
        const r = results[results.length - 1]!;
        if (row) { r.storedBatches = row.n; r.storedSamples = row.s; }
      }
    }
  } finally {
    api.close();
    if (wantsPostgres) await adminQuery(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
  }
  report(results);
}

function report(results: LayoutResult[]): void {
  const short = seconds < 600;
  const col = (f: (r: LayoutResult) => string) => `| ${results.map(f).join(' | ')} |`;
  const row = (label: string, f: (r: LayoutResult) => string) => console.log(`| ${label} ${col(f)}`);
  const rate = (r: LayoutResult) => r.ackedSamples / r.elapsedS;
  const cores = (s: number, r: LayoutResult) => (s / r.cpuWallS).toFixed(2);
  const p = (ph: ReadPhase | undefined) => ph ? `${ph.p50.toFixed(1)} / ${ph.p99.toFixed(1)} ms (ingest meanwhile ${fmt(ph.ingestRate)}/s${ph.afterLoad ? '; load ended during the reads' : ''})` : '–';
  const so = (r: LayoutResult, f: (r: LayoutResult) => string) => (r.pendingMax === undefined ? '–' : f(r));
  console.log('');
  console.log(`run: ${short ? '**short** ' : ''}${(seconds / 60).toFixed(1)} min per layout, ${guardians} guardians × ${assetsPerGuardian} assets = ${fmt(points)} points (real profiles, births), ${pollsPerBatch} poll(s) of one asset per batch, poll every ${pollMs} ms of sample time, window ${window}`);
  console.log('');
  console.log('Machine: 2 cores shared by everything below. Two replicas on one 2-core machine share the same cores with PostgreSQL, Mosquitto, NATS and the load generator: this measures the correctness and overhead of the scale-out layout, not scaling.');
  console.log('');
  console.log(`| measure | ${results.map((r) => r.label).join(' | ')} |`);
  console.log(`|---|${results.map(() => '---').join('|')}|`);
  row('**acked points/s (durably stored), whole run**', (r) => `**${fmt(rate(r))}**`);
  row('points/s per minute', (r) => (r.perMinute.length ? r.perMinute.map(fmt).join(', ') : '(under a minute)'));
  row('acked batches/s (MQTT messages, mean samples per batch)', (r) => `${fmt(r.ackedBatches / r.elapsedS)} (${(r.ackedSamples / r.ackedBatches).toFixed(1)})`);
  row('stored in the database / acked (batches; samples)', (r) => (r.storedBatches === undefined ? '–'
    : `${fmt(r.storedBatches)} / ${fmt(r.ackedBatches)}; ${fmt(r.storedSamples!)} / ${fmt(r.ackedSamples)}${r.storedBatches === r.ackedBatches && r.storedSamples === r.ackedSamples ? ' (equal)' : ' **(differ)**'}`));
  if (results.some((r) => r.refusals > 0)) row('**acks that refused batches** (see load.log)', (r) => fmt(r.refusals));
  row('CPU over the load, cores (CPU s / wall s)', (r) => r.cpu.map((c) => `${c.name} ${cores(c.seconds, r)}`).join('; '));
  row('whole machine busy, cores of 2', (r) => cores(r.machineBusy, r));
  row('server peak RSS (VmHWM)', (r) => r.peakRss.map((m) => `${m.name} ${fmt(m.mib)} MiB`).join('; '));
  row('replica roles at the end; messages each left to the other', (r) => so(r, (x) => `${x.roles}; ${x.leftToOthers}`));
  row('bus: evaluate backlog (pending on JetStream), max during the load / at its end', (r) => so(r, (x) => `${fmt(x.pendingMax!)} / ${fmt(x.pendingAtEnd!)} messages`));
  row('evaluated (`alarm_handled_messages`) / stored batches at the end of the load', (r) => so(r, (x) => `${fmt(x.handledAtEnd!)} / ${fmt(x.storedBatches!)} (${((x.handledAtEnd! / x.storedBatches!) * 100).toFixed(1)}%)`));
  row('after the load: evaluation caught up after', (r) => so(r, (x) => (x.caughtUpAfterS !== undefined
    ? `**${x.caughtUpAfterS.toFixed(1)} s** (${fmt(x.drainRate!)} batches/s meanwhile)`
    : `**not within ${catchUpSeconds} s**: ${fmt(x.handledFinal!)} / ${fmt(x.storedBatches!)}, draining at ${fmt(x.drainRate!)} batches/s (~${fmt((x.storedBatches! - x.handledFinal!) / Math.max(1, x.drainRate!))} s more)`)));
  row('dead letters', (r) => so(r, (x) => fmt(x.deadLetters!)));
  row('24 h raw read of one point (86,400 samples) while ingesting, p50 / p99', (r) => `${p(r.raw)}${r.raw ? `, through ${r.raw.through}` : ''}`);
  row('1-min buckets of that day (1,440) while ingesting, p50 / p99', (r) => p(r.buckets));
}

let failed = true;
try {
  await main();
  failed = false;
} finally {
  // A failed run keeps its logs (servers, broker, load) for a look.
  if (keep || failed) process.stderr.write(`kept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
}
