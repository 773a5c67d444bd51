/**
 * bench/attest cold start: N guardians attesting and connecting from cold — time until every one
 * of them is streaming (issue 3, "Proof required").
 *
 * The server (broker, API, SQLite, site PKI) runs in a child process, exactly as `startServer`
 * wires it, with a fresh database and CA. This process plays N lightweight guardians: each has its
 * own P-256 identity (in memory, behind the guardian's KeyStore interface), is claimed into one
 * group that shares one registered release, and then, from a standing start:
 *
 *   enrol()   challenge + ES256 EAT evidence over HTTPS -> 24 h operational certificate (chain)
 *   connect   mqtts with that chain (mutual TLS, broker checks policy OID + claim + serial)
 *   publish   one Sparkplug DDATA batch, and wait for its ack on shellguard/v1/device/<id>/down/ack
 *
 * "Streaming" = the ack arrived. Enrolments run at most --concurrency at a time; connecting and
 * publishing are not limited (each guardian goes on as soon as it has its certificate).
 * Identities are generated and claimed before the clock starts. The guardians' own crypto (evidence
 * signature, TLS client handshakes, chain checks) runs here, on the same machine.
 *
 *   node --import tsx bench/attest/cold-start.ts [--guardians 1000] [--concurrency 32]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import {
  Quality, controlTopic, decodeBatchAck, deviceIdFromPublicKey, encodeDeviceData, sparkplugTopic, type Measurement,
} from '@shellguard/protocol';
import { enrol, type Enrolment, type KeyStore } from '@shellguard/guardian';

const args = process.argv.slice(2);
function flag(name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
}

const SITE = 'bench-site';
const GROUP = 'bench-guardians';
const SWNAME = 'shellguard-guardian';
const SWVERSION = '1.0.0';
const fake = (s: string) => Buffer.from(s.padEnd(32, '.').slice(0, 32)).toString('hex');
/** The one release every guardian runs (the digests need not be of real files here). */
const MEASUREMENTS: Measurement[] = [
  { component: 'runtime', digest: fake('node') },
  { component: 'guardian-bundle', digest: fake('bundle 1.0.0') },
  { component: 'config', digest: fake('config') },
  { component: 'profiles', digest: fake('profiles') },
];

// ------------------------------------------------------------------------------ server (child)

type ToServer = { type: 'claim'; ids: string[] } | { type: 'stop' };
type FromServer =
  | { type: 'ready'; apiPort: number; mqttPort: number; rootPem: string }
  | { type: 'claimed'; claimed: number; errors: number }
  | { type: 'stopped'; peakRssBytes: number };

/** VmHWM (peak resident set) of a process, bytes; falls back to the current RSS. */
function peakRss(pid: number | 'self'): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return pid === 'self' ? process.memoryUsage().rss : 0;
}

async function runServer(dir: string): Promise<void> {
  const { initPki, startServer } = await import('@shellguard/server');
  const send = (m: FromServer) => process.send!(m);
  const logger = pino({ level: 'warn' }, pino.destination({ dest: path.join(dir, 'server.log'), sync: false }));
  await initPki(path.join(dir, 'ca'), { commonName: 'bench' });
  const server = await startServer({
    dataDir: path.join(dir, 'server'),
    caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 },
    api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger, attestationRateLimit: { burst: 100_000, perSecond: 100_000 } });
  await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: SWVERSION }, 'bench');
  await server.fleet.registerRelease({ group: GROUP, swname: SWNAME, swversion: SWVERSION, components: MEASUREMENTS }, 'bench');
  process.on('message', (m: ToServer) => {
    if (m.type === 'claim') {
      void server.fleet.claimMany(m.ids.map((deviceId) => ({ deviceId, site: SITE, group: GROUP })), 'bench').then((r) => {
        send({ type: 'claimed', claimed: r.claimed.length, errors: r.errors.length });
      });
    } else if (m.type === 'stop') {
      void server.stop().then(() => {
        send({ type: 'stopped', peakRssBytes: peakRss('self') });
        process.disconnect();
      });
    }
  });
  send({ type: 'ready', apiPort: server.apiPort, mqttPort: server.mqttPort, rootPem: server.rootPem });
}

// ------------------------------------------------------------------------------ guardians (parent)

/** A guardian identity kept in memory: the KeyStore interface without the file. */
class MemoryKeyStore implements KeyStore {
  readonly deviceId: string;
  readonly keyPem: string;
  private readonly privateKey: KeyObject;
  private readonly pub: KeyObject;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.privateKey = privateKey;
    this.pub = publicKey;
    this.deviceId = deviceIdFromPublicKey(publicKey);
    this.keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  publicKey(): KeyObject {
    return this.pub;
  }

  sign(data: Buffer): Buffer {
    return sign('sha256', data, this.privateKey);
  }

  createCsr(): Promise<string> {
    return Promise.reject(new Error('not used: attestation-gated enrolment needs no CSR'));
  }
}

interface GuardianResult {
  startedAt: number;
  attestedAt: number;
  streamingAt: number;
  enrolRetries: number;
  connectRetries: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function request<T extends FromServer['type']>(child: ChildProcess, msg: ToServer | undefined, type: T): Promise<Extract<FromServer, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromServer) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      resolve(m as Extract<FromServer, { type: T }>);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`the server process exited (${code}) before answering ${type}`)));
    if (msg) child.send(msg);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function runBench(): Promise<void> {
  const count = Number(flag('guardians', '1000'));
  const concurrency = Number(flag('concurrency', '32'));
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error('--guardians and --concurrency must be positive whole numbers');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'shellguard-cold-start-'));
  const child = fork(fileURLToPath(import.meta.url), ['--role', 'server', '--dir', dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const clients: MqttClient[] = [];
  try {
    const ready = await request(child, undefined, 'ready');
    process.stdout.write(`server ready (pid ${child.pid}); generating ${count} identities...\n`);
    const keys = Array.from({ length: count }, () => new MemoryKeyStore());
    const claimed = await request(child, { type: 'claim', ids: keys.map((k) => k.deviceId) }, 'claimed');
    if (claimed.claimed !== count) throw new Error(`claimed ${claimed.claimed} of ${count} (${claimed.errors} errors)`);
    const apiUrl = `https://127.0.0.1:${ready.apiPort}`;
    const mqttUrl = `mqtts://127.0.0.1:${ready.mqttPort}`;

    let attested = 0;
    let streaming = 0;
    let enrolRetries = 0;
    let connectRetries = 0;
    const results: GuardianResult[] = [];
    const t0 = Date.now();
    let lastAttestedAt = 0;

    const progress = setInterval(() => {
      process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  attested ${attested}/${count}  streaming ${streaming}/${count}  retries: enrol ${enrolRetries}, connect ${connectRetries}\n`);
    }, 2_000);

    const enrolWithRetry = async (k: MemoryKeyStore, r: GuardianResult): Promise<Enrolment> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await enrol({
            apiUrl, rootCaPem: ready.rootPem, keyStore: k, measurements: MEASUREMENTS, swname: SWNAME, swversion: SWVERSION, bootcount: 1, now: Date.now,
          });
        } catch (err) {
          if (attempt >= 5) throw err;
          r.enrolRetries += 1;
          enrolRetries += 1;
          await sleep(200 * 2 ** attempt);
        }
      }
    };

    const stream = async (k: MemoryKeyStore, e: Enrolment, r: GuardianResult): Promise<void> => {
      let client: MqttClient | undefined;
      for (let attempt = 0; !client; attempt++) {
        try {
          client = await mqtt.connectAsync(mqttUrl, {
            protocolVersion: 4, clientId: k.deviceId, clean: true, reconnectPeriod: 0, connectTimeout: 30_000,
            ca: ready.rootPem, key: k.keyPem, cert: e.certificatePem, rejectUnauthorized: true,
          });
        } catch (err) {
          if (attempt >= 5) throw err;
          r.connectRetries += 1;
          connectRetries += 1;
          await sleep(200 * 2 ** attempt);
        }
      }
      clients.push(client);
      const ackTopic = controlTopic(k.deviceId, 'down', 'ack');
      const acked = new Promise<void>((resolve) => {
        client.on('message', (topic, payload) => {
          if (topic === ackTopic && decodeBatchAck(payload).stored.includes(1)) resolve();
        });
      });
      await client.subscribeAsync(ackTopic, { qos: 0 });
      const now = Date.now();
      const batch = Buffer.from(encodeDeviceData({ epoch: 'cold-start', seq: 1 }, [{ point: 'supply_air_temp', ts: now, value: 18.5, quality: Quality.good }], { sparkplugSeq: 0, now }));
      // One asset per guardian: an asset is bound to the one guardian that reports it.
      const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: k.deviceId, device: `AHU-${k.deviceId.slice(0, 12)}` });
      client.publish(topic, batch, { qos: 0 });
      // QoS 0 end to end, like the real uplink: publish again if the ack does not come.
      const resend = setInterval(() => client.publish(topic, batch, { qos: 0 }), 5_000);
      await acked.finally(() => clearInterval(resend));
    };

    let next = 0;
    const streams: Promise<void>[] = [];
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const k = keys[next++]!;
        const r: GuardianResult = { startedAt: Date.now(), attestedAt: 0, streamingAt: 0, enrolRetries: 0, connectRetries: 0 };
        results.push(r);
        const e = await enrolWithRetry(k, r);
        r.attestedAt = Date.now();
        lastAttestedAt = r.attestedAt;
        attested += 1;
        // The enrolment slot is free again; this guardian goes on to connect on its own.
        streams.push(stream(k, e, r).then(() => { r.streamingAt = Date.now(); streaming += 1; }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    const allAttestedMs = lastAttestedAt - t0;
    await Promise.all(streams);
    const allStreamingMs = Date.now() - t0;
    clearInterval(progress);

    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})));
    clients.length = 0;
    const stopped = await request(child, { type: 'stop' }, 'stopped');

    const perGuardian = results.map((r) => r.streamingAt - r.startedAt).sort((a, b) => a - b);
    const fromT0 = results.map((r) => r.streamingAt - t0).sort((a, b) => a - b);
    const s = (ms: number) => (ms / 1000).toFixed(2);
    process.stdout.write(`\ncold start: ${count} guardians, ${concurrency} enrolments at a time, server in a child process (fresh CA and database)\n\n`);
    process.stdout.write('| guardians | all attested | all streaming | enrolments/s | per guardian to streaming p50 / p95 | since start p50 / p95 | server peak RSS | retries (enrol / connect) |\n');
    process.stdout.write('|---:|---:|---:|---:|---:|---:|---:|---:|\n');
    process.stdout.write(`| ${count} | ${s(allAttestedMs)} s | ${s(allStreamingMs)} s | ${(count / (allAttestedMs / 1000)).toFixed(0)} | `
      + `${percentile(perGuardian, 50)} / ${percentile(perGuardian, 95)} ms | ${s(percentile(fromT0, 50))} / ${s(percentile(fromT0, 95))} s | `
      + `${(stopped.peakRssBytes / 1024 / 1024).toFixed(0)} MB | ${enrolRetries} / ${connectRetries} |\n`);
    process.stdout.write(`\nper guardian = from the start of its enrolment (slot taken) to the ack of its first batch; load generator peak RSS ${(peakRss('self') / 1024 / 1024).toFixed(0)} MB\n`);
  } finally {
    for (const c of clients) c.end(true);
    if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (flag('role', '') === 'server') {
  await runServer(flag('dir', ''));
} else {
  await runBench();
}
