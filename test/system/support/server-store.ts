/**
 * Looking into the server's database (`<dataDir>/shellguard.sqlite`) from outside the process:
 * read-only while it runs (WAL lets a reader look without blocking the writer), and through the
 * server's own telemetry store once it has stopped.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SqliteTelemetryStore } from '@shellguard/server';
import { openSqliteSqlDatabase } from '@shellguard/server/testing';

export function serverDbFile(dataDir: string): string {
  return path.join(dataDir, 'shellguard.sqlite');
}

/** device id -> (seq -> sample count) of every batch the server stored. */
export function readStoredBatches(dataDir: string): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  const file = serverDbFile(dataDir);
  if (!existsSync(file)) return out;
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5_000 });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'batch_rows'").get();
    if (!hasTable) return out;
    for (const r of db.prepare('SELECT device_id, seq, samples FROM batch_rows').iterate() as Iterable<{ device_id: string; seq: number; samples: number }>) {
      let m = out.get(r.device_id);
      if (!m) out.set(r.device_id, (m = new Map()));
      m.set(r.seq, r.samples);
    }
    return out;
  } finally {
    db.close();
  }
}

export interface StoredSampleRow {
  site: string;
  asset: string;
  point: string;
  ts: number;
  value: number | null;
  quality: number;
}

export interface StoredTelemetry {
  samples: StoredSampleRow[];
  /** Samples inside chunks once every head is sealed, counted in SQL. */
  rowCount: number;
  /** Sum of the `samples` column of `batches`. */
  batchSampleTotal: number;
}

/**
 * Every stored sample, read through the server's own store, and the rows counted in SQL. Only
 * once the server has stopped: the store is opened (its log replayed into heads), every head is
 * sealed, so all samples are in chunks and `rowCount` counts each exactly as often as it is stored.
 */
export async function readStoredTelemetry(dataDir: string): Promise<StoredTelemetry> {
  // The server migrated the file when it started.
  const database = openSqliteSqlDatabase(serverDbFile(dataDir));
  const db = database.sqlite!.handle;
  try {
    const store = new SqliteTelemetryStore(database, { readWorkers: 0 });
    const series = db.prepare('SELECT id, site, asset, point FROM series').all() as { id: number; site: string; asset: string; point: string }[];
    const samples: StoredSampleRow[] = [];
    for (const s of series) {
      for (const x of await store.querySamples(s.id, 0, Number.MAX_SAFE_INTEGER, 10_000_000)) {
        samples.push({ site: s.site, asset: s.asset, point: s.point, ts: x.ts, value: x.value, quality: x.quality });
      }
    }
    await store.sealAll();
    await store.checkpoint();
    const chunked = (db.prepare('SELECT coalesce(sum(count), 0) AS n FROM chunks').get() as { n: number }).n;
    const logged = (db.prepare('SELECT count(*) AS n FROM sample_log').get() as { n: number }).n;
    if (logged !== 0) throw new Error(`${logged} sample log rows left after sealing every head`);
    const batchSampleTotal = (db.prepare('SELECT coalesce(sum(samples), 0) AS n FROM batches').get() as { n: number }).n;
    await store.close();
    return { samples, rowCount: chunked, batchSampleTotal };
  } finally {
    await database.close();
  }
}
