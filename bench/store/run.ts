/**
 * bench/store: the telemetry store alone, with its background work running, on each engine in
 * one run (the same workload on SQLite and on PostgreSQL), printed side by side.
 *
 *   node --import tsx bench/store/run.ts [--seconds 120] [--points 20000] [--per-call 200]
 *     [--engine sqlite,postgres] [--window-ms N] [--reads 50]
 *
 * PostgreSQL: a fresh database on SHELLGUARD_TEST_POSTGRES_URL (default the machine's, trust auth),
 * dropped after.
 *
 * Per engine:
 * 1. History: one point over 24 h at 1 Hz (a UPS, `--day-polls-per-append` polls per append, 60 by
 *    default: a PostgreSQL commit costs a WAL flush, so 86,400 one-poll appends take minutes there),
 *    compacted; samples per chunk and bytes per sample of chunk data.
 * 2. Sustained append: polls of real equipment profiles (one asset per batch, register-resolution
 *    values, poll jitter) for 20,000 points, `--per-call` batches per append as ingest's group
 *    commit gives them, while the store's maintenance seals / compacts, checkpoints and flushes on
 *    its own timer as in the server, and the UPS goes on reporting once a second. Rate per 10 s
 *    beside a like-for-like raw baseline: the same rows into a plain (point_id, ts, value, quality)
 *    table (SQLite: 64-row INSERT statements; PostgreSQL: one unnest INSERT), same transactions.
 * 3. The 24 h read of the UPS point at steady state: raw (86,400 samples), 1-min buckets and the
 *    API's JSON export, `--reads` each, p50/p99, while the sustained append goes on (compaction
 *    active) with the append rate during them; then the same idle.
 *
 * PostgreSQL compacts raw windows once they have closed: so that this happens within a short run,
 * its windows are 60 s wide here unless --window-ms says otherwise (the server's default is 1 h).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sql } from 'kysely';
import { Quality, type EquipmentProfile, type Sample } from '@shellguard/protocol';
import {
  PostgresTelemetryStore, SqliteTelemetryStore, loadProfiles, migrateServerDatabase, openTelemetryStore,
  type IncomingBatch, type MaintainedTelemetryStore, type SqlEngine,
} from '@shellguard/server';
import { createTestDatabase, type TestDatabase } from '@shellguard/server/testing';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    points: { type: 'string', default: '20000' },
    'per-call': { type: 'string', default: '200' },
    engine: { type: 'string', default: 'sqlite,postgres' },
    'window-ms': { type: 'string', default: '60000' },
    reads: { type: 'string', default: '50' },
    'day-polls-per-append': { type: 'string', default: '60' },
  },
});
const seconds = Number(args.seconds);
const targetPoints = Number(args.points);
const perCall = Number(args['per-call']);
const engines = args.engine.split(',').map((e) => e.trim()) as SqlEngine[];
const windowMs = Number(args['window-ms']);
const readCount = Number(args.reads);
const dayPollsPerAppend = Number(args['day-polls-per-append']);
const short = seconds < 600;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const catalog = loadProfiles();
const PROFILES = ['ahu-generic', 'crah-generic', 'generator-generic', 'panel-generic', 'pdu-generic', 'ups-generic'].map((id) => catalog.get(id)!);
const DAY = 86_400_000;

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Asset { id: string; profile: EquipmentProfile; ts: number; level: number[] }
let rnd = mulberry32(7);

function poll(a: Asset, pollMs: number): Sample[] {
  const out = a.profile.points.map((p, i): Sample => {
    let value: number | boolean;
    if (p.kind === 'binary') value = i % 2 === 0;
    else if (p.kind === 'enum') value = 1;
    else {
      a.level[i]! += (rnd() - 0.5) * 0.05;
      value = Math.round((a.level[i]! + (rnd() - 0.5) * 0.2) * 10) / 10;
    }
    return { point: p.name, ts: a.ts + Math.floor(rnd() * 4), value, quality: Quality.good };
  });
  a.ts += pollMs;
  return out;
}

function makeAssets(points: number, start: number): Asset[] {
  const assets: Asset[] = [];
  let n = 0;
  while (n < points) {
    const profile = PROFILES[assets.length % PROFILES.length]!;
    assets.push({ id: `A${assets.length}`, profile, ts: start, level: profile.points.map(() => 10 + rnd() * 40) });
    n += profile.points.length;
  }
  return assets;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const yieldToTimers = () => new Promise((r) => setImmediate(r));

/** Everything raw into chunks: what steady state looks like for data older than a window. */
async function settle(store: MaintainedTelemetryStore): Promise<void> {
  if (store instanceof SqliteTelemetryStore) {
    await store.sealAll();
    await store.checkpoint();
  } else if (store instanceof PostgresTelemetryStore) {
    // The background pass may hold the compaction lock (then compact() does nothing): until it ran here.
    const untilRan = async (pass: () => Promise<{ ran: boolean }>) => {
      while (!(await pass()).ran) await new Promise((r) => setTimeout(r, 100));
    };
    await untilRan(() => store.compactAll());
    await untilRan(() => store.compact()); // the windows around now again
  }
}

interface Reads { raw: number[]; buckets: number[]; exports: number[]; samples: number }

async function readDay(store: MaintainedTelemetryStore, point: number, from: number, to: number): Promise<Reads> {
  const time = async (f: () => Promise<unknown>) => { const s = performance.now(); await f(); return performance.now() - s; };
  await store.querySamples(point, from, to, 100_000); // warm-up (the read worker, the plan cache)
  const out: Reads = { raw: [], buckets: [], exports: [], samples: 0 };
  for (let i = 0; i < readCount; i++) out.raw.push(await time(async () => { out.samples = (await store.querySamples(point, from, to, 100_000)).length; }));
  for (let i = 0; i < readCount; i++) out.buckets.push(await time(() => store.queryBuckets(point, from, to, 60_000)));
  for (let i = 0; i < readCount; i++) {
    out.exports.push(await time(async () => {
      for await (const piece of store.exportSeries({ points: [store.describePoint(point)!], from, to, limit: 100_000, format: 'json' })) void piece;
    }));
  }
  for (const a of [out.raw, out.buckets, out.exports]) a.sort((x, y) => x - y);
  return out;
}

const p5099 = (a: number[]) => `${quantile(a, 0.5).toFixed(1)} / ${quantile(a, 0.99).toFixed(1)} ms`;

interface EngineResult {
  engine: SqlEngine;
  rate: number;
  rates: number[];
  raw: number;
  samplesPerCall: number;
  compacted: number;
  rows: number;
  chunkBytesPerSample: number;
  dayChunks: { chunks: number; samples: number; bytes: number };
  upsBytesPerSample: number;
  busy: Reads;
  busyRate: number;
  idle: Reads;
  seedSeconds: number;
}

async function runEngine(engine: SqlEngine): Promise<EngineResult> {
  rnd = mulberry32(7); // the same workload on every engine
  const t: TestDatabase = await createTestDatabase(engine, 'bench_store');
  try {
    await migrateServerDatabase(t.database);
    const store = await openTelemetryStore(t.database, { readWorkers: 1, windowMs, windowGraceMs: Math.min(windowMs / 6, 300_000) });
    store.startMaintenance({ onError: (err) => process.stderr.write(`\nmaintenance: ${(err as Error).message}\n`) });

    // 1. The UPS's day.
    const ups = catalog.get('ups-generic')!;
    const dayStart = Date.now() - DAY;
    const upsAsset: Asset = { id: 'UPS-1', profile: ups, ts: dayStart, level: ups.points.map(() => 10 + rnd() * 40) };
    let upsSeq = 0;
    const seed0 = performance.now();
    for (let i = 0; i < 86_400; i += dayPollsPerAppend) {
      const polls: IncomingBatch[] = [];
      for (let k = i; k < Math.min(86_400, i + dayPollsPerAppend); k++) {
        polls.push({ deviceId: 'guardian-ups', site: 'bench', asset: 'UPS-1', epoch: 'e', seq: ++upsSeq, samples: poll(upsAsset, 1000) });
      }
      await store.appendBatches(polls);
      if (i % 50 < dayPollsPerAppend) await yieldToTimers();
      if (i % 10_000 < dayPollsPerAppend) process.stderr.write(`\r${engine}: the UPS's day, ${fmt(i)} polls   `);
    }
    const seedSeconds = (performance.now() - seed0) / 1000;
    process.stderr.write('\n');
    await settle(store);
    const point = store.findPointId('bench', 'UPS-1', ups.points.find((p) => p.kind === 'analog')!.name)!;
    const db = t.database.db;
    const dayChunks = (await sql<{ chunks: number; samples: number; bytes: number }>`SELECT COUNT(*) AS chunks, SUM(count) AS samples, SUM(length(data)) AS bytes
      FROM chunks WHERE point_id = ${point}`.execute(db)).rows[0]!;
    const upsAll = (await sql<{ samples: number; bytes: number }>`SELECT SUM(c.count) AS samples, SUM(length(c.data)) AS bytes
      FROM chunks c JOIN series s ON s.id = c.point_id WHERE s.asset = 'UPS-1'`.execute(db)).rows[0]!;
    upsAsset.ts = Math.max(upsAsset.ts, Date.now());

    // 2. Sustained append, the UPS going on once a second.
    const assets = makeAssets(targetPoints, Date.now());
    let seq = 0;
    let next = 0;
    let rows = 0;
    let calls = 0;
    const rates: number[] = [];
    const kept: IncomingBatch[][] = [];
    let stopping = false;
    let phaseRows = 0;
    const ingest = (async () => {
      let windowStart = performance.now();
      let windowRows = 0;
      const t0 = performance.now();
      while (!stopping) {
        const batches: IncomingBatch[] = [];
        for (let k = 0; k < perCall; k++) {
          const a = assets[next]!;
          next = (next + 1) % assets.length;
          batches.push({ deviceId: `dev-${a.id.length % 8}`, site: 'bench', asset: a.id, epoch: 'bench', seq: ++seq, samples: poll(a, 100) });
        }
        if (Date.now() >= upsAsset.ts) batches.push({ deviceId: 'guardian-ups', site: 'bench', asset: 'UPS-1', epoch: 'e', seq: ++upsSeq, samples: poll(upsAsset, 1000) });
        const r = await store.appendBatches(batches);
        rows += r.samplesStored;
        phaseRows += r.samplesStored;
        windowRows += r.samplesStored;
        calls++;
        if (kept.length < 300) kept.push(batches); // enough distinct calls for the raw baseline to replay
        // Give the maintenance timer its turns, as ingest's event loop does between flushes.
        await yieldToTimers();
        const now = performance.now();
        if (now - windowStart >= 10_000 && now - t0 <= seconds * 1000 + 1000) {
          rates.push(windowRows / ((now - windowStart) / 1000));
          windowStart = now;
          windowRows = 0;
          process.stderr.write(`\r${engine}: sustained append, ${rates.length * 10} s, ${fmt(rates[rates.length - 1]!)} rows/s   `);
        }
      }
    })();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const sustainedRows = rows;
    const rate = sustainedRows / ((performance.now() - t0) / 1000);
    const samplesPerCall = rows / calls;
    process.stderr.write(`\n${engine}: reads of the day while appending...\n`);

    // 3. The day, read while the append and compaction go on; then idle.
    const to = () => Date.now();
    phaseRows = 0;
    const busy0 = performance.now();
    const busy = await readDay(store, point, dayStart - 60_000, to());
    const busyRate = phaseRows / ((performance.now() - busy0) / 1000);
    stopping = true;
    await ingest;
    store.stopMaintenance();
    const report = await store.storageReport();
    const idle = await readDay(store, point, dayStart - 60_000, to());
    await store.close();

    process.stderr.write(`${engine}: raw baseline...\n`);
    const raw = engine === 'sqlite' ? sqliteBaseline(kept, sustainedRows) : await postgresBaseline(t.location, kept, sustainedRows);
    return {
      engine, rate, rates, raw, samplesPerCall, compacted: report.chunkSamples, rows, chunkBytesPerSample: report.bytesPerSample,
      dayChunks, upsBytesPerSample: upsAll.bytes / upsAll.samples, busy, busyRate, idle, seedSeconds,
    };
  } finally {
    await t.destroy();
  }
}

/** The rows of the kept calls as (point_id, ts, value, quality), ids given before timing: the raw side measures the INSERTs. */
function flatten(calls: IncomingBatch[][]): number[][] {
  const ids = new Map<string, number>();
  return calls.map((batches) => {
    const out: number[] = [];
    for (const b of batches) {
      for (const s of b.samples) {
        const key = `${b.asset}/${s.point}`;
        let id = ids.get(key);
        if (id === undefined) ids.set(key, (id = ids.size + 1));
        out.push(id, s.ts, typeof s.value === 'boolean' ? (s.value ? 1 : 0) : (s.value ?? 0), s.quality);
      }
    }
    return out;
  });
}

/** SQLite: the same rows into a plain table, 64-row INSERT statements, one transaction per append call. */
function sqliteBaseline(calls: IncomingBatch[][], totalRows: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-store-raw-'));
  const disk = new Database(join(dir, 'raw.db'));
  try {
    disk.pragma('journal_mode = WAL');
    disk.pragma('synchronous = NORMAL');
    disk.exec('CREATE TABLE samples (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL)');
    const many = disk.prepare(`INSERT INTO samples (point_id, ts, value, quality) VALUES ${new Array(64).fill('(?, ?, ?, ?)').join(', ')}`);
    const one = disk.prepare('INSERT INTO samples (point_id, ts, value, quality) VALUES (?, ?, ?, ?)');
    const params = new Array<number>(256);
    const tx = disk.transaction((r: number[]) => {
      let i = 0;
      for (; i + 256 <= r.length; i += 256) {
        for (let k = 0; k < 256; k++) params[k] = r[i + k]!;
        many.run(params);
      }
      for (; i < r.length; i += 4) one.run(r[i], r[i + 1], r[i + 2], r[i + 3]);
    });
    const flat = flatten(calls);
    let written = 0;
    const t0 = performance.now();
    while (written < totalRows) {
      for (const r of flat) {
        tx(r);
        written += r.length / 4;
        if (written >= totalRows) break;
      }
    }
    return written / ((performance.now() - t0) / 1000);
  } finally {
    disk.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** PostgreSQL: the same rows into a plain table with one unnest INSERT per append call (its own transaction). */
async function postgresBaseline(url: string, calls: IncomingBatch[][], totalRows: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE raw_samples (point_id BIGINT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION, quality SMALLINT NOT NULL)');
    const arrays = flatten(calls).map((r) => {
      const cols: number[][] = [[], [], [], []];
      for (let i = 0; i < r.length; i++) cols[i % 4]!.push(r[i]!);
      return { n: r.length / 4, params: cols.map((c) => `{${c.join(',')}}`) };
    });
    let written = 0;
    const t0 = performance.now();
    while (written < totalRows) {
      for (const a of arrays) {
        await client.query('INSERT INTO raw_samples SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::smallint[])', a.params);
        written += a.n;
        if (written >= totalRows) break;
      }
    }
    return written / ((performance.now() - t0) / 1000);
  } finally {
    await client.end();
  }
}

const results: EngineResult[] = [];
for (const engine of engines) {
  process.stderr.write(`${engine}: ${seconds} s sustained${short ? ' (short)' : ''}...\n`);
  results.push(await runEngine(engine));
}

console.log('');
console.log(`run: ${seconds} s of sustained append${short ? ' (**short**)' : ''} per engine, ${fmt(targetPoints)} points of real profiles, ${perCall} polls per append, maintenance on;`
  + ` PostgreSQL raw windows of ${fmt(windowMs / 1000)} s (server default 3,600 s)`);
console.log('');
console.log(`| measure | ${results.map((r) => r.engine).join(' | ')} |`);
console.log(`|---|${results.map(() => '---').join('|')}|`);
const row = (label: string, f: (r: EngineResult) => string) => console.log(`| ${label} | ${results.map(f).join(' | ')} |`);
row('store append + background work, rows/s, whole run', (r) => `**${fmt(r.rate)}**`);
row('rows/s per 10 s', (r) => r.rates.map(fmt).join(', '));
row('samples per append call', (r) => fmt(r.samplesPerCall));
row('raw baseline, same rows and transactions, rows/s', (r) => `${fmt(r.raw)} (${r.engine === 'sqlite' ? '64-row INSERTs' : 'unnest INSERT, no index'})`);
row('store / raw', (r) => `**${(r.rate / r.raw).toFixed(2)}×**`);
row('in chunks at the end of the run', (r) => `${fmt(r.compacted)} of ${fmt(r.rows + 86_400 * 25)} samples, ${r.chunkBytesPerSample.toFixed(2)} bytes/sample`);
row(`one point, 24 h at 1 Hz (${dayPollsPerAppend} poll${dayPollsPerAppend === 1 ? '' : 's'} per append)`, (r) => `${fmt(r.dayChunks.samples)} samples in ${fmt(r.dayChunks.chunks)} chunks: **${(r.dayChunks.samples / r.dayChunks.chunks).toFixed(0)} samples/chunk**, ${(r.dayChunks.bytes / r.dayChunks.samples).toFixed(2)} bytes/sample`);
row('the UPS\'s 25 points over the day, chunk data', (r) => `${r.upsBytesPerSample.toFixed(2)} bytes/sample`);
row('seeding the day (86,400 polls)', (r) => `${r.seedSeconds.toFixed(1)} s (${fmt(86_400 / dayPollsPerAppend / r.seedSeconds)} appends/s)`);
row('**24 h read of one point (86,400 samples), while appending, compaction on**, p50 / p99', (r) => `**${p5099(r.busy.raw)}**`);
row('same, 1-min buckets (1,440), p50 / p99', (r) => p5099(r.busy.buckets));
row('same, the API\'s JSON (exportSeries), p50 / p99', (r) => p5099(r.busy.exports));
row('append rate during those reads, rows/s', (r) => fmt(r.busyRate));
row('24 h read of one point, idle, p50 / p99', (r) => p5099(r.idle.raw));
row('1-min buckets of the day, idle, p50 / p99', (r) => p5099(r.idle.buckets));
row('the day as the API\'s JSON, idle, p50 / p99', (r) => p5099(r.idle.exports));
