/**
 * Telemetry store append rate: `SqliteTelemetryStore.appendBatches` versus a raw better-sqlite3
 * prepared INSERT of the same (point, ts, value, quality) rows in one transaction, in the same run.
 *
 *   node --import tsx bench/store/run.ts [--samples 2000000] [--batch 2000] [--points 600] [--per-call 10]
 *
 * Each side writes to its own fresh file in a temporary directory (WAL, synchronous=NORMAL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Quality, type Sample } from '@shellguard/protocol';
import { openDatabase } from '../../packages/server/src/db/database.ts';
import { SqliteTelemetryStore } from '../../packages/server/src/telemetry/sqlite-telemetry-store.ts';
import type { IncomingBatch } from '../../packages/server/src/telemetry/telemetry-store.ts';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '2000000' },
    batch: { type: 'string', default: '2000' },
    points: { type: 'string', default: '600' },
    'per-call': { type: 'string', default: '10' },
  },
});
const totalSamples = Number(args.samples);
const batchSize = Number(args.batch);
const pointsPerAsset = 20;
const assets = Math.max(1, Math.round(Number(args.points) / pointsPerAsset));
const batchesPerCall = Number(args['per-call']);

// Build the workload up front so both sides measure only the database write.
const t0 = 1_750_000_000_000;
const batches: IncomingBatch[] = [];
let seq = 0;
for (let made = 0; made < totalSamples; made += batchSize) {
  const a = seq % assets;
  const samples: Sample[] = [];
  for (let i = 0; i < batchSize; i++) {
    const n = made + i;
    samples.push({ point: `p${n % pointsPerAsset}`, ts: t0 + n, value: 20 + (n % 1000) / 100, quality: Quality.good });
  }
  batches.push({ deviceId: `dev-${a % 10}`, site: 'bench', asset: `asset-${a}`, epoch: 'bench', seq: seq++, samples });
}
const rows = batches.length * batchSize;
const dir = mkdtempSync(join(tmpdir(), 'sg-bench-store-'));

function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
}

try {
  // 1. Raw: one prepared single-row INSERT per sample, all rows in one transaction.
  const rawDb = openDatabase(join(dir, 'raw.db'));
  rawDb.exec('CREATE TABLE samples (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL)');
  // Point ids resolved before timing: the raw side measures the INSERTs alone.
  const ids = new Map<string, number>();
  const rawRows: [number, number, number, number][] = [];
  for (const b of batches) {
    for (const s of b.samples) {
      const key = `${b.asset}/${s.point}`;
      let id = ids.get(key);
      if (id === undefined) ids.set(key, (id = ids.size + 1));
      rawRows.push([id, s.ts, s.value as number, s.quality]);
    }
  }
  const insert = rawDb.prepare('INSERT INTO samples (point_id, ts, value, quality) VALUES (?, ?, ?, ?)');
  const rawSeconds = timed(() => {
    rawDb.transaction(() => {
      for (const r of rawRows) insert.run(r[0], r[1], r[2], r[3]);
    })();
  });
  rawDb.close();

  // 2. The store, fed the way ingest feeds it: several batches per appendBatches call.
  const db = openDatabase(join(dir, 'store.db'));
  const store = new SqliteTelemetryStore(db);
  let calls = 0;
  const storeSeconds = timed(() => {
    for (let i = 0; i < batches.length; i += batchesPerCall) {
      store.appendBatches(batches.slice(i, i + batchesPerCall));
      calls++;
    }
  });
  // 3. Compaction of everything just written (not on the ingest path; reported for scale).
  const compactStore = new SqliteTelemetryStore(db, { hotRetentionMs: 0 });
  let moved = 0;
  const compactSeconds = timed(() => {
    moved = compactStore.compactAll().rowsMoved;
  });
  store.close();
  compactStore.close();
  db.close();

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`rows: ${fmt(rows)} in batches of ${batchSize}, ${batchesPerCall} batches per appendBatches call (${calls} calls), ${assets * pointsPerAsset} points`);
  console.log(`raw prepared insert, one transaction : ${fmt(rows / rawSeconds)} rows/s (${rawSeconds.toFixed(2)} s)`);
  console.log(`store.appendBatches                  : ${fmt(rows / storeSeconds)} rows/s (${storeSeconds.toFixed(2)} s)`);
  console.log(`store / raw                          : ${(rawSeconds / storeSeconds).toFixed(2)}x`);
  console.log(`compaction into chunks               : ${fmt(moved / compactSeconds)} rows/s (${compactSeconds.toFixed(2)} s)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
