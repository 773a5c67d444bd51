/**
 * What is SQLite's own in SqliteTelemetryStore (the port's behaviour is in
 * telemetry-store.contract.test.ts): the log and the heads, spilling, sealing deferred by reads,
 * rollbacks, and the write lock it shares with the kysely stores on the same connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { TELEMETRY_MIGRATIONS } from '../../src/telemetry/layout.ts';
import { SqliteTelemetryStore, type SqliteTelemetryStoreOptions } from '../../src/telemetry/sqlite-telemetry-store.ts';
import { T0, batch, series } from './telemetry-fixtures.ts';

let dir: string;
const opened: { database: SqlDatabase; store: SqliteTelemetryStore }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-store-'));
});
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.close();
    await o.database.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

async function openStore(file: string, options: SqliteTelemetryStoreOptions = {}): Promise<{ database: SqlDatabase; db: SqliteDatabase; store: SqliteTelemetryStore }> {
  const database = openSqliteSqlDatabase(file);
  await runSqlMigrations(database, 'telemetry', TELEMETRY_MIGRATIONS);
  // The layout tests count chunks of heads sealed at 120 samples (the store's default is larger).
  const store = new SqliteTelemetryStore(database, { sealSamples: 120, ...options });
  opened.push({ database, store });
  return { database, db: database.sqlite!.handle, store };
}

const count = (db: SqliteDatabase, table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;

describe('SqliteTelemetryStore layout', () => {
  it('refuses a database whose telemetry tables are not migrated', () => {
    const database = openSqliteSqlDatabase(join(dir, 'bare.db'));
    try {
      expect(() => new SqliteTelemetryStore(database)).toThrow(/not migrated/);
    } finally {
      void database.close();
    }
  });

  it('writes one log row per append however many samples it holds, and seals heads of 120 samples into one chunk each', async () => {
    const { db, store } = await openStore(join(dir, 'a.db'), { readWorkers: 0 });
    const samples = [...series('a', T0, 130), ...series('b', T0, 40)];
    await store.appendBatches([batch(1, samples.slice(0, 100)), batch(2, samples.slice(100))]);
    expect(count(db, 'sample_log')).toBe(1);
    const sealed = await store.sealSome();
    expect(sealed).toMatchObject({ pointsSealed: 1, chunksWritten: 1, samplesSealed: 130 });
    expect(db.prepare('SELECT count, value_count, min, max, sum FROM chunks').get()).toEqual({ count: 130, value_count: 130, min: 0, max: 129, sum: (129 * 130) / 2 });
    // b (40 samples) waits in its head; the log row stays because b still needs it.
    expect(await store.checkpoint()).toBe(0);
    await store.sealAll();
    expect(await store.checkpoint()).toBe(1);
    expect(count(db, 'sample_log')).toBe(0);
    const report = await store.storageReport();
    expect(report).toMatchObject({ chunkSamples: 170, headSamples: 0 });
    expect(report.bytesPerSample).toBeLessThan(6);
  });

  it('spills the head of a point that reports rarely, so the log can be truncated, and reads it back after a restart', async () => {
    let now = T0;
    const file = join(dir, 'spill.db');
    let { db, store } = await openStore(file, { readWorkers: 0, now: () => now, spillAfterMs: 60_000 });
    await store.appendBatches([batch(1, [...series('slow', T0, 3), ...series('fast', T0, 120)])]);
    await store.sealSome();
    now += 61_000;
    await store.appendBatches([batch(2, series('slow', T0 + 61_000, 1))]);
    await store.checkpoint(); // spills slow's head (its first sample arrived 61 s ago)
    expect(count(db, 'head_spill')).toBe(1);
    expect(count(db, 'sample_log')).toBe(0);
    await store.close();
    ({ db, store } = await openStore(file, { readWorkers: 0, now: () => now }));
    const slow = store.findPointId('site-a', 'AHU-1', 'slow')!;
    expect((await store.querySamples(slow, 0, T0 + 1e6, 100)).map((s) => s.value)).toEqual([0, 1, 2, 0]);
    await store.sealAll();
    expect(count(db, 'head_spill')).toBe(0);
    expect(await store.querySamples(slow, 0, T0 + 1e6, 100)).toHaveLength(4);
  });

  it('defers sealing a point while a read of it is in flight', async () => {
    const { store } = await openStore(join(dir, 'defer.db'), { readWorkers: 0 });
    await store.appendBatches([batch(1, series('p', T0, 200))]);
    const pieces = store.exportSeries({ points: [store.describePoint(store.findPointId('site-a', 'AHU-1', 'p')!)!], from: T0, to: T0 + 1e6, limit: 1000, format: 'json' })[Symbol.asyncIterator]();
    await pieces.next(); // the read has begun: the head is its snapshot
    expect((await store.sealSome()).pointsSealed).toBe(0);
    await pieces.return?.(undefined);
    expect((await store.sealSome()).pointsSealed).toBe(1);
  });

  it('keeps every sample once when a sealing transaction fails midway (rollback)', async () => {
    let chunks = 0;
    const { store } = await openStore(join(dir, 'rollback.db'), {
      readWorkers: 0, afterChunkWritten: () => { if (++chunks === 2) throw new Error('crash midway'); },
    });
    await store.appendBatches([batch(1, [...series('a', T0, 150), ...series('b', T0, 150)])]);
    await expect(store.sealSome()).rejects.toThrow('crash midway');
    const a = store.findPointId('site-a', 'AHU-1', 'a')!;
    expect(await store.querySamples(a, T0, T0 + 1e6, 1000)).toHaveLength(150);
    expect((await store.sealAll()).samplesSealed).toBe(300);
    expect((await store.querySamples(a, T0, T0 + 1e6, 1000)).map((s) => s.value)).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it('stores nothing of an append whose transaction fails, so nothing is acknowledged', async () => {
    const { db, store } = await openStore(join(dir, 'fail.db'), { readWorkers: 0 });
    await store.appendBatches([batch(1, series('p', T0, 2))]);
    db.exec(`CREATE TRIGGER fail_on_log BEFORE INSERT ON sample_log BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`);
    await expect(store.appendBatches([batch(2, series('q', T0, 2))])).rejects.toThrow(/disk full/);
    db.exec('DROP TRIGGER fail_on_log');
    expect(store.findPointId('site-a', 'AHU-1', 'q')).toBeUndefined();
    const retry = await store.appendBatches([batch(2, series('q', T0, 2))]);
    expect(retry.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 2 }]);
  });

  it('holds the shared write lock: an append waits for a kysely transaction of another domain, and its rollback leaves the append', async () => {
    const { database, store } = await openStore(join(dir, 'lock.db'), { readWorkers: 0 });
    await sql`CREATE TABLE notes (body TEXT NOT NULL)`.execute(database.db);
    let appended = false;
    let append: Promise<unknown> | undefined;
    await expect(database.db.transaction().execute(async (tx) => {
      await sql`INSERT INTO notes (body) VALUES ('x')`.execute(tx);
      append = store.appendBatches([batch(1, series('p', T0, 3))]).then(() => { appended = true; });
      await new Promise((r) => setTimeout(r, 20));
      expect(appended).toBe(false); // not inside this transaction
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    await append;
    expect(appended).toBe(true);
    expect((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM notes`.execute(database.db)).rows[0]!.n).toBe(0);
    const p = store.findPointId('site-a', 'AHU-1', 'p')!;
    expect(await store.querySamples(p, T0, T0 + 1e6, 10)).toHaveLength(3);
    await store.close();
    await store.close();
    // The log row is on disk: the next open finds the samples.
    const again = await openStore(join(dir, 'lock.db'), { readWorkers: 0 });
    expect(await again.store.querySamples(p, T0, T0 + 1e6, 10)).toHaveLength(3);
  });

  it('seals in the background in slices and flushes latest values', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { db, store } = await openStore(join(dir, 'bg.db'), { readWorkers: 0, now: () => T0 });
      for (let p = 0; p < 10; p++) await store.appendBatches([batch(p + 1, series(`p${p}`, T0, 130))]);
      store.startMaintenance({ intervalMs: 100 });
      await vi.advanceTimersByTimeAsync(100);
      for (let i = 0; i < 50 && count(db, 'chunks') < 10; i++) await new Promise((r) => setImmediate(r));
      expect(count(db, 'chunks')).toBe(10);
      store.stopMaintenance();
    } finally {
      vi.useRealTimers();
    }
  });
});
