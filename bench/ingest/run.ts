/**
 * bench/ingest: end-to-end telemetry throughput.
 *
 *   simulated guardians (mqtt over mutual TLS, one child process)
 *     -> server (child process: aedes broker, Sparkplug decode, dedup, SQLite store, acks)
 *
 * Points/s counts only samples whose batch the server acknowledged, i.e. durably stored.
 * Baseline in the same run: raw better-sqlite3 inserts of the same number of
 * (point_id, ts, value, quality) rows, in transactions of the same size, same pragmas.
 * Also reports the server process's peak resident memory (VmHWM).
 *
 *   npm run bench:ingest -- [--seconds 20] [--guardians 4] [--batch 2000] [--window 16]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import https from 'node:https';
import { FileKeyStore, GUARDIAN_SWNAME, enrol } from '@shellguard/guardian';
import type { Measurement } from '@shellguard/protocol';
import { initPki } from '@shellguard/server';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}
const seconds = flag('seconds', 20);
const guardians = flag('guardians', 4);
const batchSamples = flag('batch', 2000);
const window = flag('window', 16);
const pointsPerAsset = 20;

const tsx = ['--import', 'tsx'];
const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-ingest-'));

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got: ${buf}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(pattern);
      if (m) { clearTimeout(timer); resolve(m); }
    });
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before ${pattern}; output: ${buf}`)));
  });
}

function postJson(url: string, token: string, ca: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', ca, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); }).on('end', () => {
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`POST ${url}: ${res.statusCode} ${text}`));
        else resolve();
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function progress(label: string, totalMs: number): () => void {
  const start = Date.now();
  const t = setInterval(() => {
    const done = Math.min(1, (Date.now() - start) / totalMs);
    const width = 30;
    process.stderr.write(`\r${label} [${'#'.repeat(Math.round(done * width)).padEnd(width)}] ${(done * 100).toFixed(0)}%`);
  }, 500);
  return () => { clearInterval(t); process.stderr.write('\n'); };
}

async function endToEnd(): Promise<{ pointsPerSec: number; acked: number; peakMiB: number; batches: number }> {
  const caDir = path.join(dir, 'ca');
  // `shellguard server` opens an existing site PKI only, as `ca init` would have made it.
  const pki = await initPki(caDir, { commonName: 'bench' });
  writeFileSync(path.join(dir, 'server.yaml'), [
    `dataDir: ${path.join(dir, 'server')}`,
    `caDir: ${caDir}`,
    'mqtt: { host: 127.0.0.1, port: 0 }',
    'api: { host: 127.0.0.1, port: 0 }',
    // Each simulated guardian here carries the load of many real ones (a real guardian sends a
    // few messages a second): its per-device message rate must not be what the bench measures.
    'quotas: { messagesPerSecond: 10000000, messageBurst: 10000000 }',
  ].join('\n'));
  const server = spawn(process.execPath, [...tsx, path.join(ROOT, 'packages/cli/src/main.ts'), 'server', '--config', path.join(dir, 'server.yaml')], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, SHELLGUARD_LOG_LEVEL: 'warn' },
  });
  try {
    const m = await waitForLine(server, /admin API token[^:]*: (\S+)\n[\s\S]*API https:\/\/127\.0\.0\.1:(\d+)\/api\/v1 +broker mqtts:\/\/127\.0\.0\.1:(\d+)/, 60_000);
    const [token, apiPort, mqttPort] = [m[1]!, Number(m[2]), Number(m[3])];
    // Enrol the simulated guardians as real ones are: group, release, claim, then attestation.
    const api = (route: string, body: unknown) => postJson(`https://127.0.0.1:${apiPort}/api/v1${route}`, token, pki.rootPem, body);
    const measurements: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles']
      .map((component) => ({ component, digest: createHash('sha256').update(`bench ${component}`).digest('hex') }));
    await api('/groups', { id: 'bench', site: 'bench', minSecureVersion: '0.1.0' });
    await api('/groups/bench/releases', { swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: measurements });
    const devices = [];
    for (let i = 0; i < guardians; i++) {
      const gdir = path.join(dir, `g${i}`);
      const keys = await FileKeyStore.open(gdir);
      await api('/claims', { deviceId: keys.deviceId, site: 'bench', group: 'bench' });
      const enrolment = await enrol({
        apiUrl: `https://127.0.0.1:${apiPort}`, rootCaPem: pki.rootPem, keyStore: keys, measurements,
        swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
      });
      const certFile = path.join(gdir, 'cert.pem');
      writeFileSync(certFile, enrolment.certificatePem);
      devices.push({ deviceId: keys.deviceId, keyFile: path.join(gdir, 'identity.key'), certFile });
    }
    const specFile = path.join(dir, 'load.json');
    writeFileSync(specFile, JSON.stringify({
      url: `mqtts://127.0.0.1:${mqttPort}`, caFile: path.join(caDir, 'root.crt'), site: 'bench', devices,
      durationMs: seconds * 1000, batchSamples, pointsPerAsset, window,
    }));
    const load = spawn(process.execPath, [...tsx, path.join(ROOT, 'bench/ingest/load-guardians.ts'), specFile], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const done = progress(`end to end (${guardians} guardians, ${batchSamples} samples/batch, window ${window})`, seconds * 1000);
    const line = await waitForLine(load, /\{.*\}\n/, seconds * 1000 + 120_000);
    done();
    const result = JSON.parse(line[0]) as { ackedSamples: number; ackedBatches: number; elapsedMs: number };
    const peakMiB = peakRssMiB(server.pid!);
    return { pointsPerSec: result.ackedSamples / (result.elapsedMs / 1000), acked: result.ackedSamples, peakMiB, batches: result.ackedBatches };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

/** Independent check that what was acknowledged is really in the server's database, once. */
function storedInDatabase(): { batches: number; samples: number; hotRows: number } {
  const db = new Database(path.join(dir, 'server', 'shellguard.sqlite'), { readonly: true });
  try {
    const b = db.prepare('SELECT count(*) AS n, coalesce(sum(samples), 0) AS s FROM batches').get() as { n: number; s: number };
    const hot = db.prepare('SELECT count(*) AS n FROM samples_hot').get() as { n: number };
    const chunked = db.prepare('SELECT coalesce(sum(count), 0) AS n FROM chunks').get() as { n: number };
    return { batches: b.n, samples: b.s, hotRows: hot.n + chunked.n };
  } finally {
    db.close();
  }
}

function rawInsert(rows: number): number {
  const db = new Database(path.join(dir, 'raw.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE samples (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO samples (point_id, ts, value, quality) VALUES (?, ?, ?, ?)');
  const tx = db.transaction((base: number, n: number) => {
    for (let i = 0; i < n; i++) insert.run((base + i) % (guardians * pointsPerAsset), base + i, 20 + Math.sin(i) * 5, 192);
  });
  const start = process.hrtime.bigint();
  for (let done = 0; done < rows; done += batchSamples) tx(done, Math.min(batchSamples, rows - done));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  db.close();
  return rows / secs;
}

try {
  const e2e = await endToEnd();
  const stored = storedInDatabase();
  if (stored.samples < e2e.acked || stored.hotRows !== stored.samples) {
    throw new Error(`stored data does not match: acked ${e2e.acked} samples, batches table says ${stored.samples}, sample rows ${stored.hotRows}`);
  }
  process.stderr.write('raw better-sqlite3 baseline...\n');
  const raw = rawInsert(e2e.acked);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log('');
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| end to end, points/s (acked = durably stored) | ${fmt(e2e.pointsPerSec)} |`);
  console.log(`| raw better-sqlite3 insert of the same ${fmt(e2e.acked)} rows, rows/s | ${fmt(raw)} |`);
  console.log(`| ratio raw / end to end | ${(raw / e2e.pointsPerSec).toFixed(2)}x |`);
  console.log(`| server peak memory (VmHWM) | ${e2e.peakMiB.toFixed(0)} MiB |`);
  console.log(`| stored in the server database (checked after the run) | ${fmt(stored.batches)} batches, ${fmt(stored.hotRows)} sample rows |`);
  console.log(`| run | ${seconds} s, ${guardians} guardians, ${batchSamples} samples/batch, window ${window}, ${fmt(e2e.batches)} batches |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
