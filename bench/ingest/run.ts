/**
 * bench/ingest: end-to-end telemetry over many minutes, with the store's background work on.
 *
 *   simulated guardians (one child process: MQTT over mutual TLS, real profiles, births, one poll
 *   of one asset per batch, register-resolution values, a window of unacknowledged batches)
 *     -> server (child process, `shellguard server`: broker, ingest, store with sealing,
 *        checkpoints, retention; alarms bound by the births; live analytics; HTTPS API)
 *
 * Points/s counts only samples whose batch the server acknowledged (durably stored), per minute.
 * In the same run:
 *   - a like-for-like raw baseline: the same number of (point_id, ts, value, quality) rows into a
 *     plain table with 64-row INSERT statements, in transactions of the server's mean flush size;
 *   - reads through the API of a point holding 24 h of 1 Hz history (seeded before the start):
 *     the raw day and its 1-min buckets, 50 each, p50/p99, while ingesting and idle, with the
 *     ingest rate during them; then 40 concurrent day reads and the ingest rate during those;
 *   - bytes per sample on disk and samples per chunk after the run.
 *
 *   npm run bench:ingest -- [--minutes 10] [--guardians 8] [--points 20000] [--window 64] [--poll-ms 100] [--polls-per-batch 1]
 *   (--seconds N for a short run; label such runs as short)
 *   npm run bench:ingest -- --mode scale-out [...]: the same load against embedded, one and two
 *   scale-out replicas (PostgreSQL, Mosquitto, JetStream) in one run — see scale-out.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { FileKeyStore, GUARDIAN_SWNAME, enrol } from '@shellguard/guardian';
import { Quality, type Measurement, type Sample } from '@shellguard/protocol';
import { SqliteTelemetryStore, initPki, loadProfiles, migrateServerDatabase } from '@shellguard/server';
import { openSqliteSqlDatabase } from '@shellguard/server/testing';
import { apiClient, flag, hasFlag, peakRssMiB, quantile, textFlag } from './bench-support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const seconds = hasFlag('seconds') ? flag('seconds', 60) : flag('minutes', 10) * 60;
const guardians = flag('guardians', 8);
const targetPoints = flag('points', 20_000);
const window = flag('window', 64);
const pollMs = flag('poll-ms', 100);
const pollsPerBatch = flag('polls-per-batch', 1);
const PROFILES = ['ahu-generic', 'crah-generic', 'generator-generic', 'panel-generic', 'pdu-generic', 'ups-generic'];
const SITE = 'bench';
const DAY = 86_400_000;

const catalog = loadProfiles();
const meanPoints = PROFILES.reduce((n, id) => n + catalog.get(id)!.points.length, 0) / PROFILES.length;
const assetsPerGuardian = Math.max(1, Math.round(targetPoints / meanPoints / guardians));
let points = 0;
for (let g = 0; g < guardians; g++) for (let i = 0; i < assetsPerGuardian; i++) points += catalog.get(PROFILES[(g * assetsPerGuardian + i) % PROFILES.length]!)!.points.length;

const tsx = ['--import', 'tsx'];
const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-ingest-'));
const caDir = path.join(dir, 'ca');
const dataDir = path.join(dir, 'server');
const dbFile = path.join(dataDir, 'shellguard.sqlite');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function onLines(child: ChildProcess, onLine: (line: string) => void): void {
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

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

const api = apiClient(64);
const request = api.request;

/** 24 h of 1 Hz history for one UPS, written before the server starts, one poll per batch. */
/** The point read in the read phases: an analog point of the seeded UPS. */
let historyPoint = 0;

async function seedHistory(): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The tables as the server makes them when it starts (it finds them done).
  const database = openSqliteSqlDatabase(dbFile);
  await migrateServerDatabase(database);
  const store = new SqliteTelemetryStore(database, { readWorkers: 0 });
  const profile = catalog.get('ups-generic')!;
  const start = Date.now() - DAY - 3_600_000;
  let level = 230;
  let seq = 0;
  for (let s = 0; s < 86_400; s += 100) {
    const batches = [];
    for (let k = s; k < s + 100; k++) {
      level += (Math.random() - 0.5) * 0.1;
      const samples: Sample[] = profile.points.map((p) => ({
        point: p.name, ts: start + k * 1000 + Math.floor(Math.random() * 4),
        value: p.kind === 'binary' ? false : Math.round((level + Math.random() * 0.3) * 10) / 10, quality: Quality.good,
      }));
      batches.push({ deviceId: 'history', site: SITE, asset: 'HIST-UPS', epoch: 'seed', seq: ++seq, samples });
    }
    await store.appendBatches(batches);
    if (s % 3600 === 0) await store.sealSome();
  }
  await store.sealAll();
  await store.checkpoint();
  historyPoint = store.findPointId(SITE, 'HIST-UPS', profile.points.find((p) => p.kind === 'analog')!.name)!;
  await store.close();
  await database.close();
}

interface Phase { label: string; p50: number; p99: number; ingestRate: number }

async function main(): Promise<void> {
  const pki = await initPki(caDir, { commonName: 'bench' });
  process.stderr.write('seeding 24 h of 1 Hz history for one UPS...\n');
  await seedHistory();
  writeFileSync(path.join(dir, 'server.yaml'), [
    `dataDir: ${dataDir}`,
    `caDir: ${caDir}`,
    'mqtt: { host: 127.0.0.1, port: 0 }',
    'api: { host: 127.0.0.1, port: 0 }',
    // Each simulated guardian carries the load of many real ones (a real guardian sends a few
    // messages a second): its per-device message rate is not what this measures.
    'quotas: { messagesPerSecond: 10000000, messageBurst: 10000000 }',
  ].join('\n'));
  const server = spawn(process.execPath, [...tsx, path.join(ROOT, 'packages/cli/src/main.ts'), 'server', '--config', path.join(dir, 'server.yaml')], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, SHELLGUARD_LOG_LEVEL: 'warn' },
  });
  try {
    const m = await waitForLine(server, /admin API token[^:]*: (\S+)\n[\s\S]*API https:\/\/127\.0\.0\.1:(\d+)\/api\/v1 +broker mqtts:\/\/127\.0\.0\.1:(\d+)/, 120_000);
    const [token, apiPort, mqttPort] = [m[1]!, Number(m[2]), Number(m[3])];
    const base = `https://127.0.0.1:${apiPort}/api/v1`;
    const api = async (route: string, body: unknown) => {
      const r = await request('POST', `${base}${route}`, token, pki.rootPem, body);
      if (r.status >= 300) throw new Error(`POST ${route}: ${r.status} ${r.text}`);
    };
    const get = async (route: string) => request('GET', `${base}${route}`, token, pki.rootPem);
    const measurements: Measurement[] = ['runtime', 'guardian-bundle', 'config', 'profiles']
      .map((component) => ({ component, digest: createHash('sha256').update(`bench ${component}`).digest('hex') }));
    await api('/groups', { id: 'bench', site: SITE, minSecureVersion: '0.1.0' });
    await api('/groups/bench/releases', { swname: GUARDIAN_SWNAME, swversion: '0.1.0', components: measurements });
    const devices = [];
    for (let i = 0; i < guardians; i++) {
      const gdir = path.join(dir, `g${i}`);
      const keys = await FileKeyStore.open(gdir);
      await api('/claims', { deviceId: keys.deviceId, site: SITE, group: 'bench' });
      const enrolment = await enrol({
        apiUrl: `https://127.0.0.1:${apiPort}`, rootCaPem: pki.rootPem, keyStore: keys, measurements,
        swname: GUARDIAN_SWNAME, swversion: '0.1.0', bootcount: 1, now: Date.now,
      });
      const certFile = path.join(gdir, 'cert.pem');
      writeFileSync(certFile, enrolment.certificatePem);
      devices.push({ deviceId: keys.deviceId, keyFile: path.join(gdir, 'identity.key'), certFile });
    }
    const stored = async () => (JSON.parse((await get('/health')).text).ingest.samplesStored as number);

    /** 50 reads of the history day; the ingest rate while they ran. */
    const reads = async (label: string, query: string, n = 50, concurrency = 1): Promise<Phase> => {
      const times: number[] = [];
      const before = await stored();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < n) {
          next++;
          const s = performance.now();
          const r = await get(`/points/${historyPoint}/samples?from=-25h&to=now&${query}`);
          if (r.status !== 200) throw new Error(`read failed: ${r.status} ${r.text.slice(0, 200)}`);
          times.push(performance.now() - s);
        }
      }));
      const elapsed = (performance.now() - t0) / 1000;
      const rate = ((await stored()) - before) / elapsed;
      times.sort((a, b) => a - b);
      return { label, p50: quantile(times, 0.5), p99: quantile(times, 0.99), ingestRate: rate };
    };

    const specFile = path.join(dir, 'load.json');
    writeFileSync(specFile, JSON.stringify({
      url: `mqtts://127.0.0.1:${mqttPort}`, caFile: path.join(caDir, 'root.crt'), site: SITE, devices,
      durationMs: seconds * 1000, assets: assetsPerGuardian, profiles: PROFILES, window, pollMs, pollsPerBatch,
    }));
    const load = spawn(process.execPath, [...tsx, path.join(ROOT, 'bench/ingest/load-guardians.ts'), specFile], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let totals: { total: { ackedSamples: number; ackedBatches: number; elapsedMs: number }; perMinute: number[] } | undefined;
    const minutes: number[] = [];
    const loadDone = new Promise<void>((resolve, reject) => {
      onLines(load, (line) => {
        const o = JSON.parse(line) as { minute?: number; samples?: number; total?: unknown };
        if (o.minute !== undefined) {
          minutes.push(o.samples!);
          process.stderr.write(`\rminute ${o.minute}/${Math.ceil(seconds / 60)}: ${fmt(o.samples! / 60)} points/s            \n`);
        } else if (o.total) { totals = o as typeof totals; resolve(); }
      });
      load.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load generator exited ${code}`))));
    });
    const started = Date.now();
    const bar = setInterval(() => {
      const f = Math.min(1, (Date.now() - started) / (seconds * 1000));
      process.stderr.write(`\rend to end [${'#'.repeat(Math.round(f * 30)).padEnd(30)}] ${(f * 100).toFixed(0)}%`);
    }, 1000);

    // Reads while ingesting, once compaction has run a while (half-way), then 40 at once.
    const phases: Phase[] = [];
    await new Promise((r) => setTimeout(r, Math.max(10_000, (seconds * 1000) / 2)));
    const quiet = await stored();
    await new Promise((r) => setTimeout(r, 10_000));
    const rateWithout = ((await stored()) - quiet) / 10;
    phases.push(await reads('raw 24 h (86,400 samples), while ingesting', 'limit=100000'));
    phases.push(await reads('raw 24 h as columns (layout=columns), while ingesting', 'limit=100000&layout=columns'));
    phases.push(await reads('1-min buckets of 24 h (1,440), while ingesting', 'bucket=1m'));
    phases.push(await reads('40 concurrent raw 24 h reads, while ingesting', 'limit=100000', 80, 40));
    await loadDone;
    clearInterval(bar);
    process.stderr.write('\n');
    const storage = JSON.parse((await get('/telemetry/storage')).text);
    phases.push(await reads('raw 24 h, idle', 'limit=100000'));
    phases.push(await reads('raw 24 h as columns, idle', 'limit=100000&layout=columns'));
    phases.push(await reads('1-min buckets of 24 h, idle', 'bucket=1m'));
    const peakMiB = peakRssMiB(server.pid!);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));

    // After the run: every head sealed, then what the file holds.
    const database = openSqliteSqlDatabase(dbFile);
    const db = database.sqlite!.handle;
    const store = new SqliteTelemetryStore(database, { readWorkers: 0 });
    await store.sealAll();
    await store.checkpoint();
    await store.close();
    const chunkRow = db.prepare('SELECT COUNT(*) AS chunks, SUM(count) AS samples, SUM(length(data)) AS bytes FROM chunks').get() as { chunks: number; samples: number; bytes: number };
    const hist = db.prepare(`SELECT COUNT(*) AS chunks, SUM(c.count) AS samples FROM chunks c JOIN series s ON s.id = c.point_id
      WHERE s.asset = 'HIST-UPS' AND s.point = (SELECT point FROM series WHERE id = ?)`).get(historyPoint) as { chunks: number; samples: number };
    const batchRows = db.prepare('SELECT COUNT(*) AS n, SUM(samples) AS s FROM batches').get() as { n: number; s: number };
    db.pragma('wal_checkpoint(TRUNCATE)');
    const byTable = db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as { name: string; bytes: number }[];
    const freeBytes = (db.pragma('freelist_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
    await database.close();
    const fileBytes = statSync(dbFile).size;
    const acked = totals!.total.ackedSamples;
    const historySamples = 86_400 * catalog.get('ups-generic')!.points.length;
    if (chunkRow.samples !== acked + historySamples) {
      throw new Error(`stored samples (${chunkRow.samples}) differ from acknowledged (${acked}) + history (${historySamples})`);
    }

    const flushes = Math.max(1, totals!.total.elapsedMs / 20);
    const txnRows = Math.max(64, Math.round(acked / flushes));
    process.stderr.write(`raw baseline: ${fmt(acked)} rows, 64-row statements, ${fmt(txnRows)} rows per transaction...\n`);
    const raw = rawInsert(acked, txnRows);

    const e2e = acked / (totals!.total.elapsedMs / 1000);
    const minuteRates = minutes.map((s) => s / 60);
    console.log('');
    console.log(`run: ${seconds >= 600 ? '' : '**short** '}${(seconds / 60).toFixed(1)} min, ${guardians} guardians × ${assetsPerGuardian} assets = ${fmt(points)} points (real profiles, births), ${pollsPerBatch} poll(s) of one asset per batch (mean ${(acked / totals!.total.ackedBatches).toFixed(1)} samples), poll every ${pollMs} ms of sample time, window ${window}`);
    console.log('');
    console.log('| measure | value |');
    console.log('|---|---|');
    console.log(`| end to end, points/s (acked = durably stored), whole run | ${fmt(e2e)} |`);
    console.log(`| points/s per minute | ${minuteRates.map(fmt).join(', ')} |`);
    if (minuteRates.length >= 2) console.log(`| last full minute / first minute | ${(minuteRates[minuteRates.length - 1]! / minuteRates[0]!).toFixed(2)} |`);
    console.log(`| raw insert of the same ${fmt(acked)} rows (64-row statements, ${fmt(txnRows)} rows per transaction), rows/s | ${fmt(raw)} |`);
    console.log(`| end to end / raw | ${(e2e / raw).toFixed(2)} |`);
    console.log(`| ingest rate before the read phases (10 s) | ${fmt(rateWithout)} points/s |`);
    for (const p of phases) console.log(`| ${p.label}: p50 / p99 | ${p.p50.toFixed(1)} / ${p.p99.toFixed(1)} ms (ingest meanwhile ${fmt(p.ingestRate)} points/s) |`);
    console.log(`| chunks after the run | ${fmt(chunkRow.chunks)} holding ${fmt(chunkRow.samples)} samples: ${(chunkRow.samples / chunkRow.chunks).toFixed(0)} samples/chunk, ${(chunkRow.bytes / chunkRow.samples).toFixed(2)} bytes/sample of chunk data |`);
    console.log(`| the 24 h history point | ${fmt(hist.samples)} samples in ${fmt(hist.chunks)} chunks (${(hist.samples / hist.chunks).toFixed(0)} per chunk) |`);
    console.log(`| database file after the run | ${fmt(fileBytes)} bytes = ${(fileBytes / chunkRow.samples).toFixed(2)} bytes/sample; ${(freeBytes / chunkRow.samples).toFixed(2)} of it free pages (the sample log's churn, reused), ${fmt(batchRows.n)} de-duplication rows |`);
    const perSample = (b: number) => (b / chunkRow.samples).toFixed(2);
    console.log(`| file bytes/sample by table | ${byTable.slice(0, 8).map((t) => `${t.name} ${perSample(t.bytes)}`).join(', ')} |`);
    console.log(`| storage report at the end of the load | ${JSON.stringify({ fileBytes: storage.fileBytes, chunkBytes: storage.chunkBytes, bytesPerSample: Number(storage.bytesPerSample?.toFixed(3)), headSamples: storage.headSamples, batchRows: storage.batchRows, projectedRawBytes: storage.sites?.[0]?.projectedRawBytes })} |`);
    console.log(`| server peak memory (VmHWM) | ${peakMiB.toFixed(0)} MiB |`);
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    api.close();
  }
}

/** The same rows into a plain 4-column table: 64-row INSERT statements, `txnRows` rows per transaction. */
function rawInsert(rows: number, txnRows: number): number {
  const db = new Database(path.join(dir, 'raw.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE samples (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL)');
  const many = db.prepare(`INSERT INTO samples (point_id, ts, value, quality) VALUES ${new Array(64).fill('(?, ?, ?, ?)').join(', ')}`);
  const one = db.prepare('INSERT INTO samples (point_id, ts, value, quality) VALUES (?, ?, ?, ?)');
  const params = new Array<number>(256);
  const tx = db.transaction((base: number, n: number) => {
    let i = 0;
    for (; i + 64 <= n; i += 64) {
      for (let k = 0; k < 64; k++) {
        const r = base + i + k;
        params[k * 4] = r % points; params[k * 4 + 1] = 1_750_000_000_000 + r; params[k * 4 + 2] = 20 + (r % 100) / 10; params[k * 4 + 3] = 192;
      }
      many.run(params);
    }
    for (; i < n; i++) one.run((base + i) % points, 1_750_000_000_000 + base + i, 20, 192);
  });
  const start = performance.now();
  for (let done = 0; done < rows; done += txnRows) tx(done, Math.min(txnRows, rows - done));
  const secs = (performance.now() - start) / 1000;
  db.close();
  return rows / secs;
}

const mode = textFlag('mode', 'embedded');
if (mode !== 'embedded' && mode !== 'scale-out') throw new Error(`--mode ${mode}: embedded (the default) or scale-out`);
if (mode === 'scale-out') {
  // The same load against embedded, one and two scale-out replicas, in one run (scale-out.ts).
  rmSync(dir, { recursive: true, force: true });
  await import('./scale-out.ts');
} else {
  try {
    await main();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
