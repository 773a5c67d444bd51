import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Quality, type Sample } from '@shellguard/protocol';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteTelemetryStore, type SqliteTelemetryStoreOptions } from '../../src/telemetry/sqlite-telemetry-store.ts';
import type { IncomingBatch, StoredSample } from '../../src/telemetry/telemetry-store.ts';

const T0 = 1_750_000_000_000;

let dir: string;
let file: string;
const open: { db: SqliteDatabase; store: SqliteTelemetryStore }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-store-'));
  file = join(dir, 'server.db');
});

afterEach(() => {
  for (const o of open.splice(0)) {
    o.store.close();
    if (o.db.open) o.db.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

function openStore(options: SqliteTelemetryStoreOptions = {}) {
  const db = openDatabase(file);
  const store = new SqliteTelemetryStore(db, options);
  open.push({ db, store });
  return { db, store };
}

function closeAll(): void {
  for (const o of open.splice(0)) {
    o.store.close();
    o.db.close();
  }
}

function batch(seq: number, samples: Sample[], deviceId = 'dev-1', asset = 'AHU-1'): IncomingBatch {
  return { deviceId, site: 'site-a', asset, epoch: 'e1', seq, samples };
}

function series(point: string, from: number, count: number, step = 1000, value = (i: number) => i): Sample[] {
  return Array.from({ length: count }, (_, i) => ({ point, ts: from + i * step, value: value(i), quality: Quality.good }));
}

describe('SqliteTelemetryStore.appendBatches', () => {
  it('stores samples and reads them back in time order', () => {
    const { store } = openStore();
    const samples: Sample[] = [
      { point: 'supply_air_temp', ts: T0 + 2000, value: 18.5, quality: Quality.good },
      { point: 'supply_air_temp', ts: T0, value: 18.25, quality: Quality.good },
      { point: 'fan_running', ts: T0, value: true, quality: Quality.good },
      { point: 'supply_air_temp', ts: T0 + 1000, value: null, quality: Quality.bad },
    ];
    const result = store.appendBatches([batch(1, samples)]);
    expect(result).toEqual({ stored: [{ deviceId: 'dev-1', epoch: 'e1', seq: 1 }], duplicates: [], conflicts: [], refused: [], samplesStored: 4 });

    const id = store.findPointId('site-a', 'AHU-1', 'supply_air_temp')!;
    expect(store.querySamples(id, T0, T0 + 10_000, 100)).toEqual([
      { ts: T0, value: 18.25, quality: Quality.good },
      { ts: T0 + 1000, value: null, quality: Quality.bad },
      { ts: T0 + 2000, value: 18.5, quality: Quality.good },
    ]);
    const fan = store.findPointId('site-a', 'AHU-1', 'fan_running')!;
    expect(store.querySamples(fan, T0, T0, 10)).toEqual([{ ts: T0, value: 1, quality: Quality.good }]);
    expect(store.latest(id)).toEqual({ ts: T0 + 2000, value: 18.5, quality: Quality.good });
    expect(store.describePoint(id)).toEqual({ id, site: 'site-a', asset: 'AHU-1', point: 'supply_air_temp' });
    expect(store.pointsOf('site-a', 'AHU-1').map((p) => p.point).sort()).toEqual(['fan_running', 'supply_air_temp']);
  });

  it('does not store a re-sent batch again and reports it as a duplicate', () => {
    const { store } = openStore();
    const first = store.appendBatches([batch(7, series('p', T0, 3))]);
    expect(first.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 7 }]);

    const again = store.appendBatches([batch(7, series('p', T0, 3)), batch(8, series('p', T0 + 3000, 2))]);
    expect(again).toEqual({
      stored: [{ deviceId: 'dev-1', epoch: 'e1', seq: 8 }],
      duplicates: [{ deviceId: 'dev-1', epoch: 'e1', seq: 7 }],
      conflicts: [],
      refused: [],
      samplesStored: 2,
    });
    const id = store.findPointId('site-a', 'AHU-1', 'p')!;
    expect(store.querySamples(id, T0, T0 + 100_000, 100)).toHaveLength(5);
  });

  it('treats the same seq from two devices as two batches, and the same batch twice in one call as one', () => {
    const { store } = openStore();
    const r = store.appendBatches([
      batch(1, series('p', T0, 1), 'dev-1'),
      batch(1, series('p', T0 + 1, 1), 'dev-2', 'AHU-2'),
      batch(1, series('p', T0, 1), 'dev-1'),
    ]);
    expect(r.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 1 }, { deviceId: 'dev-2', epoch: 'e1', seq: 1 }]);
    expect(r.duplicates).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 1 }]);
    expect(r.samplesStored).toBe(2);
  });

  it('tells a redelivery from another batch under the same identity, and keys batches by queue epoch', () => {
    const { store } = openStore();
    store.appendBatches([batch(1, series('p', T0, 3))]);
    const r = store.appendBatches([
      batch(1, series('p', T0, 3)), // the same batch again: a redelivery
      { ...batch(1, series('p', T0 + 60_000, 3)), epoch: 'e2' }, // seq 1 of a new queue: new
      batch(1, series('p', T0 + 120_000, 3)), // seq 1 of e1 with other samples: a reused sequence
    ]);
    expect(r.duplicates).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 1 }]);
    expect(r.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e2', seq: 1 }]);
    expect(r.conflicts).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 1 }]);
    const id = store.findPointId('site-a', 'AHU-1', 'p')!;
    expect(store.querySamples(id, T0, T0 + 1e6, 100)).toHaveLength(6);
  });

  it('asks the admission before creating points, and stores nothing of a refused batch', () => {
    const { store } = openStore();
    const asked: [number, number][] = [];
    const admit = (_b: IncomingBatch, newPoints: number, pointsOfAsset: number) => {
      asked.push([newPoints, pointsOfAsset]);
      return pointsOfAsset + newPoints > 2 ? 'point_quota_exceeded' : undefined;
    };
    const r = store.appendBatches([
      batch(1, [...series('a', T0, 2), ...series('b', T0, 2)]),
      batch(2, series('a', T0 + 5000, 2)), // no new point: not asked
      batch(3, [...series('a', T0 + 9000, 1), ...series('c', T0, 1)]),
    ], admit);
    expect(asked).toEqual([[2, 0], [1, 2]]);
    expect(r.stored.map((b) => b.seq)).toEqual([1, 2]);
    expect(r.refused).toEqual([{ ref: { deviceId: 'dev-1', epoch: 'e1', seq: 3 }, reason: 'point_quota_exceeded' }]);
    expect(store.findPointId('site-a', 'AHU-1', 'c')).toBeUndefined();
    expect(store.pointCount('site-a', 'AHU-1')).toBe(2);
    // Refused means not stored: the same batch is new again once admitted.
    expect(store.appendBatches([batch(3, [...series('a', T0 + 9000, 1), ...series('c', T0, 1)])]).stored).toHaveLength(1);
  });

  it('stores nothing of a call whose transaction fails, so nothing is acknowledged', () => {
    const { db, store } = openStore();
    store.appendBatches([batch(1, series('p', T0, 2))]);
    db.exec(`CREATE TRIGGER fail_on_poison BEFORE INSERT ON samples_hot WHEN NEW.ts = ${T0 + 999_999}
      BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`);
    expect(() =>
      store.appendBatches([batch(2, series('q', T0, 2)), batch(3, [{ point: 'p', ts: T0 + 999_999, value: 1, quality: 192 }])]),
    ).toThrow(/disk full/);
    db.exec('DROP TRIGGER fail_on_poison');
    expect(store.findPointId('site-a', 'AHU-1', 'q')).toBeUndefined();
    // Redelivery after the failure is stored, not mistaken for a duplicate.
    const retry = store.appendBatches([batch(2, series('q', T0, 2))]);
    expect(retry.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 2 }]);
    const q = store.findPointId('site-a', 'AHU-1', 'q')!;
    expect(store.querySamples(q, T0, T0 + 10_000, 10)).toHaveLength(2);
  });
});

describe('SqliteTelemetryStore compaction', () => {
  function clock(start: number) {
    const c = { t: start, now: () => c.t };
    return c;
  }

  it('keeps every sample exactly once across chunks and the hot table', () => {
    const c = clock(T0);
    const { store } = openStore({ now: c.now, hotRetentionMs: 10_000, compactionStepRows: 37 });
    // Interleaved arrival, out-of-order timestamps and two points.
    let seq = 0;
    for (let i = 0; i < 10; i++) {
      store.appendBatches([batch(seq++, [...series('a', T0 + i * 100_000, 20), ...series('b', T0 + (9 - i) * 100_000, 20)])]);
      c.t += 1000;
    }
    c.t += 10_000; // everything so far is old enough
    const moved = store.compactAll();
    expect(moved.rowsMoved).toBe(400);
    // Newer rows stay hot until they are old enough.
    store.appendBatches([batch(seq++, series('a', T0 + 10 * 100_000, 20))]);
    expect(store.compactStep().rowsMoved).toBe(0);

    const a = store.findPointId('site-a', 'AHU-1', 'a')!;
    const all = store.querySamples(a, T0, T0 + 2_000_000, 10_000);
    expect(all).toHaveLength(220);
    expect(all.map((s) => s.ts)).toEqual([...all.map((s) => s.ts)].sort((x, y) => x - y));
    expect(new Set(all.map((s) => s.ts)).size).toBe(220);

    // A range that straddles the last chunk and the hot rows.
    const edge = store.querySamples(a, T0 + 9 * 100_000 + 15_000, T0 + 10 * 100_000 + 4_000, 100);
    expect(edge.map((s) => s.ts - T0)).toEqual([
      915_000, 916_000, 917_000, 918_000, 919_000, 1_000_000, 1_001_000, 1_002_000, 1_003_000, 1_004_000,
    ]);
    // Limit returns the oldest samples first.
    expect(store.querySamples(a, T0, T0 + 2_000_000, 3).map((s) => s.ts - T0)).toEqual([0, 1000, 2000]);
  });

  it('loses and duplicates nothing when a compaction step fails midway (rollback)', () => {
    let chunks = 0;
    const { store } = openStore({
      hotRetentionMs: 0,
      afterChunkWritten: () => {
        if (++chunks === 2) throw new Error('crash midway');
      },
    });
    store.appendBatches([batch(1, [...series('a', T0, 50), ...series('b', T0, 50)])]);
    expect(() => store.compactStep()).toThrow('crash midway');
    const a = store.findPointId('site-a', 'AHU-1', 'a')!;
    const b = store.findPointId('site-a', 'AHU-1', 'b')!;
    expect(store.querySamples(a, T0, T0 + 1e6, 1000)).toHaveLength(50);
    expect(store.querySamples(b, T0, T0 + 1e6, 1000)).toHaveLength(50);
    // The next step succeeds and the result is still exact.
    expect(store.compactAll().rowsMoved).toBe(100);
    expect(store.querySamples(a, T0, T0 + 1e6, 1000).map((s) => s.value)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('aggregates buckets across chunks and hot rows (hand-computed)', () => {
    const c = clock(T0);
    const { store } = openStore({ now: c.now, hotRetentionMs: 1 });
    const B = 1_749_999_960_000; // a multiple of 60 s: buckets align to the epoch
    const at = (sec: number, value: number | null): Sample => ({ point: 'v', ts: B + sec * 1000, value, quality: 192 });
    // Bucket [0,60): 1, 5, 3 → min 1, avg 3, max 5. Bucket [60,120): 10, null, 20 → 10/15/20 count 2.
    store.appendBatches([batch(1, [at(0, 1), at(20, 5), at(61, 10)])]);
    c.t += 10;
    store.compactAll();
    store.appendBatches([batch(2, [at(40, 3), at(70, null), at(119, 20), at(180, 7)])]);
    const id = store.findPointId('site-a', 'AHU-1', 'v')!;
    expect(store.queryBuckets(id, B, B + 150_000, 60_000)).toEqual([
      { ts: B, min: 1, avg: 3, max: 5, count: 3 },
      { ts: B + 60_000, min: 10, avg: 15, max: 20, count: 2 },
    ]);
  });

  it('refuses a reversed range, a zero limit and a zero bucket', () => {
    const { store } = openStore();
    expect(() => store.querySamples(1, 10, 5, 10)).toThrow(expect.objectContaining({ code: 'telemetry_bad_query' }));
    expect(() => store.querySamples(1, 0, 5, 0)).toThrow(expect.objectContaining({ code: 'telemetry_bad_query' }));
    expect(() => store.queryBuckets(1, 0, 5, 0)).toThrow(expect.objectContaining({ code: 'telemetry_bad_query' }));
  });
});

describe('SqliteTelemetryStore.startMaintenance', () => {
  it('compacts in the background, step after step, and flushes latest values', async () => {
    // Fake the interval only; the steps after the first run from real setImmediate turns.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const turns = async (n: number) => {
      for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    try {
      const { db, store } = openStore({ hotRetentionMs: 0, compactionStepRows: 10, now: () => T0 });
      store.appendBatches([batch(1, series('a', T0, 35))]);
      store.startMaintenance({ intervalMs: 100 });
      await vi.advanceTimersByTimeAsync(100);
      await turns(10);
      const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      expect(count('samples_hot')).toBe(0);
      expect(count('chunks')).toBe(4);
      await vi.advanceTimersByTimeAsync(500);
      expect(count('latest')).toBe(1);
      store.stopMaintenance();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('SqliteTelemetryStore restart', () => {
  it('keeps samples, point ids, latest values and de-duplication state across close and reopen', () => {
    const first = openStore({ hotRetentionMs: 0 });
    first.store.appendBatches([batch(1, series('a', T0, 10)), batch(2, series('b', T0, 10), 'dev-2')]);
    first.store.compactStep();
    first.store.appendBatches([batch(3, series('a', T0 + 10_000, 5))]);
    const aId = first.store.findPointId('site-a', 'AHU-1', 'a')!;
    closeAll();

    const { store } = openStore();
    expect(store.findPointId('site-a', 'AHU-1', 'a')).toBe(aId);
    const again = store.appendBatches([batch(1, series('a', T0, 10)), batch(3, series('a', T0 + 10_000, 5)), batch(4, [])]);
    expect(again.duplicates).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 1 }, { deviceId: 'dev-1', epoch: 'e1', seq: 3 }]);
    expect(again.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 4 }]);
    const got: StoredSample[] = store.querySamples(aId, T0, T0 + 1e6, 1000);
    expect(got.map((s) => s.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]);
    expect(store.latest(aId)).toEqual({ ts: T0 + 14_000, value: 4, quality: 192 });
  });

  it('recovers latest values from the hot table when they were never flushed (crash)', () => {
    const first = openStore();
    first.store.appendBatches([batch(1, series('a', T0, 3))]);
    const id = first.store.findPointId('site-a', 'AHU-1', 'a')!;
    // Simulate a crash: the database closes without the store flushing latest values.
    open.splice(0);
    first.db.close();
    const { store } = openStore();
    expect(store.latest(id)).toEqual({ ts: T0 + 2000, value: 2, quality: 192 });
  });
});
