/**
 * bench/store: the telemetry store alone, with its background work running.
 *
 *   node --import tsx bench/store/run.ts [--seconds 120] [--points 20000] [--per-call 200]
 *
 * 1. Sustained append: polls of real equipment profiles (one asset per batch, register-resolution
 *    values, poll jitter) for 20,000 points, `--per-call` batches per append as ingest's group
 *    commit gives them, while the store's maintenance seals, checkpoints and flushes on its own
 *    timer as in the server. Rate per 10 s beside a like-for-like raw baseline in the same run:
 *    the same rows into a plain (point_id, ts, value, quality) table with 64-row INSERT statements,
 *    in transactions of the same size.
 * 2. One point over 24 h at 1 Hz (a UPS, one poll per append as a guardian sends them): samples per
 *    chunk, bytes per sample of chunk data and of the whole file.
 * 3. Reads of that day, in the read worker: raw (86,400 samples) and 1-min buckets, p50/p99 of 50.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Quality, loadProfiles, type EquipmentProfile, type Sample } from '@shellguard/protocol';
import { openDatabase } from '../../packages/server/src/db/database.ts';
import { SqliteTelemetryStore } from '../../packages/server/src/telemetry/sqlite-telemetry-store.ts';
import type { IncomingBatch } from '../../packages/server/src/telemetry/telemetry-store.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    points: { type: 'string', default: '20000' },
    'per-call': { type: 'string', default: '200' },
  },
});
const seconds = Number(args.seconds);
const targetPoints = Number(args.points);
const perCall = Number(args['per-call']);
const dir = mkdtempSync(join(tmpdir(), 'sg-bench-store-'));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const catalog = loadProfiles();
const PROFILES = ['ahu-generic', 'crah-generic', 'generator-generic', 'panel-generic', 'pdu-generic', 'ups-generic'].map((id) => catalog.get(id)!);

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
const rnd = mulberry32(7);

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

async function sustained(): Promise<{ rows: number; rates: number[]; rate: number; calls: number; samplesPerCall: number; sealed: number; chunkBytesPerSample: number; batches: IncomingBatch[][] }> {
  const db = openDatabase(join(dir, 'sustained.db'));
  const store = new SqliteTelemetryStore(db, { readWorkers: 0 });
  store.startMaintenance();
  const assets = makeAssets(targetPoints, Date.now() - 3_600_000);
  let seq = 0;
  let next = 0;
  let rows = 0;
  let calls = 0;
  const rates: number[] = [];
  const kept: IncomingBatch[][] = [];
  const t0 = performance.now();
  let windowStart = t0;
  let windowRows = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const batches: IncomingBatch[] = [];
    for (let k = 0; k < perCall; k++) {
      const a = assets[next]!;
      next = (next + 1) % assets.length;
      batches.push({ deviceId: `dev-${a.id.length % 8}`, site: 'bench', asset: a.id, epoch: 'bench', seq: ++seq, samples: poll(a, 100) });
    }
    const r = await store.appendBatches(batches);
    rows += r.samplesStored;
    windowRows += r.samplesStored;
    calls++;
    if (kept.length < 300) kept.push(batches); // enough distinct calls for the raw baseline to replay
    // Give the maintenance timer its turns, as ingest's event loop does between flushes.
    await yieldToTimers();
    const now = performance.now();
    if (now - windowStart >= 10_000) {
      rates.push(windowRows / ((now - windowStart) / 1000));
      windowStart = now;
      windowRows = 0;
      process.stderr.write(`\rsustained append: ${rates.length * 10} s, ${fmt(rates[rates.length - 1]!)} rows/s   `);
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  process.stderr.write('\n');
  store.stopMaintenance();
  const report = await store.storageReport();
  await store.close();
  db.close();
  return {
    rows, rates, rate: rows / elapsed, calls, samplesPerCall: rows / calls, sealed: report.chunkSamples,
    chunkBytesPerSample: report.bytesPerSample, batches: kept,
  };
}

/** The same rows into a plain table: 64-row INSERT statements, one transaction per append call. */
function rawBaseline(calls: IncomingBatch[][], totalRows: number): number {
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE samples (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL)');
  const many = db.prepare(`INSERT INTO samples (point_id, ts, value, quality) VALUES ${new Array(64).fill('(?, ?, ?, ?)').join(', ')}`);
  const one = db.prepare('INSERT INTO samples (point_id, ts, value, quality) VALUES (?, ?, ?, ?)');
  const ids = new Map<string, number>();
  // Rows resolved to ids before timing: the raw side measures the INSERTs.
  const flat = calls.map((batches) => {
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
  const params = new Array<number>(256);
  const tx = db.transaction((rows: number[]) => {
    let i = 0;
    for (; i + 256 <= rows.length; i += 256) {
      for (let k = 0; k < 256; k++) params[k] = rows[i + k]!;
      many.run(params);
    }
    for (; i < rows.length; i += 4) one.run(rows[i], rows[i + 1], rows[i + 2], rows[i + 3]);
  });
  let written = 0;
  const t0 = performance.now();
  // Replay the kept calls until as many rows as the store took are written.
  while (written < totalRows) {
    for (const rows of flat) {
      tx(rows);
      written += rows.length / 4;
      if (written >= totalRows) break;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  db.close();
  return written / secs;
}

async function oneDay(): Promise<void> {
  const file = join(dir, 'day.db');
  const db = openDatabase(file);
  const store = new SqliteTelemetryStore(db, { readWorkers: 0 });
  store.startMaintenance();
  const ups = catalog.get('ups-generic')!;
  const asset: Asset = { id: 'UPS-1', profile: ups, ts: Date.now() - 86_400_000, level: ups.points.map(() => 10 + rnd() * 40) };
  let seq = 0;
  for (let i = 0; i < 86_400; i++) {
    await store.appendBatches([{ deviceId: 'guardian', site: 'bench', asset: 'UPS-1', epoch: 'e', seq: ++seq, samples: poll(asset, 1000) }]);
    if (i % 50 === 0) await yieldToTimers();
  }
  store.stopMaintenance();
  store.sealAll();
  store.checkpoint();
  const point = store.findPointId('bench', 'UPS-1', ups.points.find((p) => p.kind === 'analog')!.name)!;
  const c = db.prepare('SELECT COUNT(*) AS chunks, SUM(count) AS samples, SUM(length(data)) AS bytes FROM chunks WHERE point_id = ?').get(point) as { chunks: number; samples: number; bytes: number };
  const all = db.prepare('SELECT SUM(count) AS samples, SUM(length(data)) AS bytes FROM chunks').get() as { samples: number; bytes: number };
  await store.close();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('incremental_vacuum');
  db.close();
  const fileBytes = statSync(file).size;
  console.log(`| one point, 24 h at 1 Hz (a UPS polled once a second, one poll per append) | ${fmt(c.samples)} samples in ${fmt(c.chunks)} chunks: **${(c.samples / c.chunks).toFixed(0)} samples/chunk**, ${(c.bytes / c.samples).toFixed(2)} bytes/sample of chunk data |`);
  console.log(`| the UPS's ${ups.points.length} points over the day | ${(all.bytes / all.samples).toFixed(2)} bytes/sample of chunk data; whole file ${fmt(fileBytes)} bytes = **${(fileBytes / all.samples).toFixed(2)} bytes/sample** (incl. one de-duplication row per poll) |`);

  // Reads of the day, in the read worker, idle.
  const db2 = openDatabase(file);
  const reader = new SqliteTelemetryStore(db2, { readWorkers: 1 });
  const from = Date.now() - 86_400_000 - 60_000;
  const to = Date.now();
  const time = async (f: () => Promise<unknown>) => { const s = performance.now(); await f(); return performance.now() - s; };
  await reader.querySamples(point, from, to, 100_000); // worker warm-up
  const raw: number[] = [];
  const buckets: number[] = [];
  let got = 0;
  for (let i = 0; i < 50; i++) raw.push(await time(async () => { got = (await reader.querySamples(point, from, to, 100_000)).length; }));
  for (let i = 0; i < 50; i++) buckets.push(await time(() => reader.queryBuckets(point, from, to, 60_000)));
  const exportMs: number[] = [];
  for (let i = 0; i < 50; i++) {
    exportMs.push(await time(async () => {
      for await (const piece of reader.exportSeries({ points: [reader.describePoint(point)!], from, to, limit: 100_000, format: 'json' })) void piece;
    }));
  }
  raw.sort((a, b) => a - b);
  buckets.sort((a, b) => a - b);
  exportMs.sort((a, b) => a - b);
  console.log(`| read of the day (${fmt(got)} samples as objects), idle, p50 / p99 | ${quantile(raw, 0.5).toFixed(1)} / ${quantile(raw, 0.99).toFixed(1)} ms |`);
  console.log(`| same, encoded as the API's JSON in the worker (exportSeries), p50 / p99 | ${quantile(exportMs, 0.5).toFixed(1)} / ${quantile(exportMs, 0.99).toFixed(1)} ms |`);
  console.log(`| 1-min buckets of the day (1,440), idle, p50 / p99 | ${quantile(buckets, 0.5).toFixed(1)} / ${quantile(buckets, 0.99).toFixed(1)} ms |`);
  await reader.close();
  db2.close();
}

try {
  process.stderr.write(`sustained append for ${seconds} s...\n`);
  const s = await sustained();
  process.stderr.write('raw baseline...\n');
  const raw = rawBaseline(s.batches, s.rows);
  console.log('');
  console.log(`sustained run: ${seconds} s${seconds < 600 ? ' (**short**)' : ''}, ${fmt(targetPoints)} points of real profiles, ${perCall} polls per append (${fmt(s.samplesPerCall)} samples), maintenance on`);
  console.log('');
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| store append + sealing + checkpoints, rows/s, whole run | **${fmt(s.rate)}** |`);
  console.log(`| rows/s per 10 s | ${s.rates.map(fmt).join(', ')} |`);
  console.log(`| raw 64-row INSERTs of the same rows, same transaction size, rows/s | ${fmt(raw)} |`);
  console.log(`| store / raw | **${(s.rate / raw).toFixed(2)}×** |`);
  console.log(`| sealed into chunks during the run | ${fmt(s.sealed)} of ${fmt(s.rows)} samples, ${s.chunkBytesPerSample.toFixed(2)} bytes/sample of chunk data |`);
  process.stderr.write('one point over 24 h...\n');
  await oneDay();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
