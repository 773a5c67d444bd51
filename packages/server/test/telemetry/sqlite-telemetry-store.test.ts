import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteTelemetryStore, type SqliteTelemetryStoreOptions } from '../../src/telemetry/sqlite-telemetry-store.ts';
import { T0, batch, describeTelemetryStoreContract, series, type ContractClock, type StoreUnderTest } from './telemetry-store-contract.ts';

let dir: string;
const opened: { db: SqliteDatabase; store: SqliteTelemetryStore }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-store-'));
});
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.close();
    if (o.db.open) o.db.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

function openStore(file: string, options: SqliteTelemetryStoreOptions = {}): { db: SqliteDatabase; store: SqliteTelemetryStore } {
  const db = openDatabase(file);
  // The layout tests count chunks of heads sealed at 120 samples (the store's default is larger).
  const store = new SqliteTelemetryStore(db, { sealSamples: 120, ...options });
  opened.push({ db, store });
  return { db, store };
}

function underTest(file: string, clock: ContractClock, options: SqliteTelemetryStoreOptions): StoreUnderTest {
  const { db, store } = openStore(file, { now: clock.now, ...options });
  return {
    store,
    async settle() {
      store.sealAll();
      store.checkpoint();
    },
    async expire() {
      while (!store.retentionStep().done) { /* next slice */ }
    },
    async reopen() {
      await store.close();
      db.close();
      return underTest(file, clock, options);
    },
    async close() {
      await store.close();
      if (db.open) db.close();
    },
  };
}

let memoryDbs = 0;
describeTelemetryStoreContract('SQLite, reads in this thread', async ({ clock, retention }) => {
  // A file (reopen needs the data to survive), with read workers off.
  return underTest(join(dir, `mem-${++memoryDbs}.db`), clock, { readWorkers: 0, ...(retention ? { retention: { default: retention } } : {}) });
});
describeTelemetryStoreContract('SQLite, reads in a worker', async ({ clock, retention }) => {
  return underTest(join(dir, `workers-${++memoryDbs}.db`), clock, { readWorkers: 1, ...(retention ? { retention: { default: retention } } : {}) });
}, { propertyRuns: 8 });

describe('SqliteTelemetryStore layout', () => {
  const count = (db: SqliteDatabase, table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;

  it('writes one log row per append however many samples it holds, and seals heads of 120 samples into one chunk each', async () => {
    const { db, store } = openStore(join(dir, 'a.db'), { readWorkers: 0 });
    const samples = [...series('a', T0, 130), ...series('b', T0, 40)];
    await store.appendBatches([batch(1, samples.slice(0, 100)), batch(2, samples.slice(100))]);
    expect(count(db, 'sample_log')).toBe(1);
    const sealed = store.sealSome();
    expect(sealed).toMatchObject({ pointsSealed: 1, chunksWritten: 1, samplesSealed: 130 });
    expect(db.prepare('SELECT count, value_count, min, max, sum FROM chunks').get()).toEqual({ count: 130, value_count: 130, min: 0, max: 129, sum: (129 * 130) / 2 });
    // b (40 samples) waits in its head; the log row stays because b still needs it.
    expect(store.checkpoint()).toBe(0);
    store.sealAll();
    expect(store.checkpoint()).toBe(1);
    expect(count(db, 'sample_log')).toBe(0);
    const report = await store.storageReport();
    expect(report).toMatchObject({ chunkSamples: 170, headSamples: 0 });
    expect(report.bytesPerSample).toBeLessThan(6);
  });

  it('spills the head of a point that reports rarely, so the log can be truncated, and reads it back after a restart', async () => {
    let now = T0;
    const file = join(dir, 'spill.db');
    let { db, store } = openStore(file, { readWorkers: 0, now: () => now, spillAfterMs: 60_000 });
    await store.appendBatches([batch(1, [...series('slow', T0, 3), ...series('fast', T0, 120)])]);
    store.sealSome();
    now += 61_000;
    await store.appendBatches([batch(2, series('slow', T0 + 61_000, 1))]);
    store.checkpoint(); // spills slow's head (its first sample arrived 61 s ago)
    expect(count(db, 'head_spill')).toBe(1);
    expect(count(db, 'sample_log')).toBe(0);
    await store.close();
    db.close();
    ({ db, store } = openStore(file, { readWorkers: 0, now: () => now }));
    const slow = store.findPointId('site-a', 'AHU-1', 'slow')!;
    expect((await store.querySamples(slow, 0, T0 + 1e6, 100)).map((s) => s.value)).toEqual([0, 1, 2, 0]);
    store.sealAll();
    expect(count(db, 'head_spill')).toBe(0);
    expect(await store.querySamples(slow, 0, T0 + 1e6, 100)).toHaveLength(4);
  });

  it('prunes batch rows once no redelivery of them could be accepted, and only then', async () => {
    let now = T0;
    const { db, store } = openStore(join(dir, 'prune.db'), { readWorkers: 0, now: () => now, dedupKeepMs: 10 * 86_400_000 });
    await store.appendBatches([batch(1, series('p', T0, 2)), batch(2, series('p', T0 + 2000, 2))]);
    expect(store.pruneBatches()).toBe(0); // marks seq 2 now
    now += 5 * 86_400_000;
    await store.appendBatches([batch(3, series('p', now, 2))]);
    expect(store.pruneBatches()).toBe(0);
    now += 6 * 86_400_000; // the first mark is 11 days old
    expect(store.pruneBatches()).toBe(2);
    expect(db.prepare('SELECT seq FROM batch_rows').pluck().all()).toEqual([3]);
    expect((await store.storageReport()).batchRows).toBe(1);
  });

  it('defers sealing a point while a read of it is in flight', async () => {
    const { store } = openStore(join(dir, 'defer.db'), { readWorkers: 0 });
    await store.appendBatches([batch(1, series('p', T0, 200))]);
    const pieces = store.exportSeries({ points: [store.describePoint(store.findPointId('site-a', 'AHU-1', 'p')!)!], from: T0, to: T0 + 1e6, limit: 1000, format: 'json' })[Symbol.asyncIterator]();
    await pieces.next(); // the read has begun: the head is its snapshot
    expect(store.sealSome().pointsSealed).toBe(0);
    await pieces.return?.(undefined);
    expect(store.sealSome().pointsSealed).toBe(1);
  });

  it('keeps every sample once when a sealing transaction fails midway (rollback)', async () => {
    let chunks = 0;
    const { store } = openStore(join(dir, 'rollback.db'), {
      readWorkers: 0, afterChunkWritten: () => { if (++chunks === 2) throw new Error('crash midway'); },
    });
    await store.appendBatches([batch(1, [...series('a', T0, 150), ...series('b', T0, 150)])]);
    expect(() => store.sealSome()).toThrow('crash midway');
    const a = store.findPointId('site-a', 'AHU-1', 'a')!;
    expect(await store.querySamples(a, T0, T0 + 1e6, 1000)).toHaveLength(150);
    expect(store.sealAll().samplesSealed).toBe(300);
    expect((await store.querySamples(a, T0, T0 + 1e6, 1000)).map((s) => s.value)).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it('stores nothing of an append whose transaction fails, so nothing is acknowledged', async () => {
    const { db, store } = openStore(join(dir, 'fail.db'), { readWorkers: 0 });
    await store.appendBatches([batch(1, series('p', T0, 2))]);
    db.exec(`CREATE TRIGGER fail_on_log BEFORE INSERT ON sample_log BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`);
    await expect(store.appendBatches([batch(2, series('q', T0, 2))])).rejects.toThrow(/disk full/);
    db.exec('DROP TRIGGER fail_on_log');
    expect(store.findPointId('site-a', 'AHU-1', 'q')).toBeUndefined();
    const retry = await store.appendBatches([batch(2, series('q', T0, 2))]);
    expect(retry.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 2 }]);
  });

  it('refuses a reversed range, a zero limit and a zero bucket', async () => {
    const { store } = openStore(join(dir, 'bad.db'), { readWorkers: 0 });
    await expect(store.querySamples(1, 10, 5, 10)).rejects.toMatchObject({ code: 'telemetry_bad_query' });
    await expect(store.querySamples(1, 0, 5, 0)).rejects.toMatchObject({ code: 'telemetry_bad_query' });
    await expect(store.queryBuckets(1, 0, 5, 0)).rejects.toMatchObject({ code: 'telemetry_bad_query' });
  });

  it('seals in the background in slices and flushes latest values', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { db, store } = openStore(join(dir, 'bg.db'), { readWorkers: 0, now: () => T0 });
      for (let p = 0; p < 10; p++) await store.appendBatches([batch(p + 1, series(`p${p}`, T0, 130))]);
      store.startMaintenance({ intervalMs: 100 });
      await vi.advanceTimersByTimeAsync(100);
      for (let i = 0; i < 20 && count(db, 'chunks') < 10; i++) await new Promise((r) => setImmediate(r));
      expect(count(db, 'chunks')).toBe(10);
      store.stopMaintenance();
    } finally {
      vi.useRealTimers();
    }
  });
});
