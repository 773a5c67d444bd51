/**
 * The contract of the TelemetryStore port (STYLE.md §2): one suite, run against every
 * implementation — SQLite (reads in this thread and in a read worker) and PostgreSQL. What a user
 * of the port may rely on: exactly-once appends (a redelivery is never stored twice, on one
 * replica or two), point admission before any point is created, reads that return every stored
 * sample of the range once and in order whatever part is compacted — also while compaction runs —,
 * buckets equal to the raw computation, latest values, retention, the storage report, and all of
 * it across a restart.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Quality, type Sample } from '@shellguard/protocol';
import type { SqlDatabase, SqlEngine } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { TELEMETRY_MIGRATIONS } from '../../src/telemetry/layout.ts';
import { PostgresTelemetryStore } from '../../src/telemetry/postgres-telemetry-store.ts';
import { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';
import type { IncomingBatch, RetentionPolicy, SampleBucket, StoredSample, TelemetryStore } from '../../src/telemetry/telemetry-store.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { DAY, T0, batch, clock, series, type Clock } from './telemetry-fixtures.ts';

/** The raw computation buckets must equal. */
function naiveBuckets(samples: readonly StoredSample[], from: number, to: number, bucketMs: number): SampleBucket[] {
  const m = new Map<number, { min: number; max: number; sum: number; count: number }>();
  for (const s of samples) {
    if (s.ts < from || s.ts > to || s.value === null) continue;
    const start = Math.floor(s.ts / bucketMs) * bucketMs;
    const b = m.get(start);
    if (!b) m.set(start, { min: s.value, max: s.value, sum: s.value, count: 1 });
    else {
      b.min = Math.min(b.min, s.value);
      b.max = Math.max(b.max, s.value);
      b.sum += s.value;
      b.count++;
    }
  }
  return [...m].sort((a, b) => a[0] - b[0]).map(([ts, b]) => ({ ts, min: b.min, avg: b.sum / b.count, max: b.max, count: b.count }));
}

const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function expectBucketsClose(got: SampleBucket[], want: SampleBucket[]): void {
  expect(got.map((b) => [b.ts, b.min, b.max, b.count])).toEqual(want.map((b) => [b.ts, b.min, b.max, b.count]));
  got.forEach((b, i) => expect(near(b.avg, want[i]!.avg), `avg of bucket ${b.ts}: ${b.avg} vs ${want[i]!.avg}`).toBe(true));
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(Buffer.from(p));
  return Buffer.concat(parts).toString('utf8');
}

interface StoreOptions {
  retention?: RetentionPolicy;
  dedupKeepMs?: number;
}

/** A store of one engine, and what the suite does to it that the port leaves to each implementation. */
interface Harness {
  store: TelemetryStore;
  /** Everything raw compacted into chunks (sealed and checkpointed, on SQLite). */
  settle(): Promise<void>;
  /** Retention as the store runs it on its own schedule. */
  expire(): Promise<void>;
  /** Batch-row pruning as the store runs it. */
  prune(): Promise<number>;
  /** Closes the store and opens another on the same data (another process or replica). */
  reopen(): Promise<Harness>;
  close(): Promise<void>;
}

interface Variant {
  name: string;
  engine: SqlEngine;
  readWorkers?: number;
  propertyRuns: number;
}

const VARIANTS: Variant[] = SQL_ENGINES.flatMap((engine): Variant[] => engine === 'sqlite'
  ? [{ name: 'sqlite, reads in this thread', engine, readWorkers: 0, propertyRuns: 40 }, { name: 'sqlite, reads in a worker', engine, readWorkers: 1, propertyRuns: 8 }]
  : [{ name: 'postgres', engine, propertyRuns: 25 }]);

async function openHarness(v: Variant, database: SqlDatabase, t: TestDatabase, c: Clock, options: StoreOptions): Promise<Harness> {
  const retention = options.retention ? { default: options.retention } : undefined;
  const common = { now: c.now, ...(retention ? { retention } : {}), ...(options.dedupKeepMs !== undefined ? { dedupKeepMs: options.dedupKeepMs } : {}) };
  if (v.engine === 'sqlite') {
    const store = new SqliteTelemetryStore(database, { ...common, readWorkers: v.readWorkers ?? 0 });
    return {
      store,
      async settle() { await store.sealAll(); await store.checkpoint(); },
      async expire() { while (!(await store.retentionStep()).done) { /* next slice */ } },
      prune: () => store.pruneBatches(),
      async reopen() { await store.close(); return openHarness(v, t.reopen(), t, c, options); },
      close: () => store.close(),
    };
  }
  const store = await PostgresTelemetryStore.open(database, common);
  await store.compact(); // the windows around now, as maintenance makes them
  return {
    store,
    // Everything into chunks, then the raw windows around the clock's now made again, so the next
    // appends land in a window (and later ones, past it, in samples_late): both paths are read.
    async settle() { await store.compactAll(); await store.compact(); },
    async expire() { await store.expire(); },
    prune: () => store.pruneBatches(),
    async reopen() { await store.close(); return openHarness(v, t.reopen(), t, c, options); },
    close: () => store.close(),
  };
}

describe.each(VARIANTS)('TelemetryStore contract: $name', (v) => {
  let t: TestDatabase;
  let open: (options?: StoreOptions & { clock?: Clock }) => Promise<Harness>;
  const harnesses: Harness[] = [];

  beforeEach(async () => {
    t = await createTestDatabase(v.engine, 'telemetry');
    await runSqlMigrations(t.database, 'telemetry', TELEMETRY_MIGRATIONS);
    open = async (options = {}) => {
      const h = await openHarness(v, t.database, t, options.clock ?? clock(), options);
      harnesses.push(h);
      return h;
    };
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.close();
    await t.destroy();
  });

  it('stores samples (nulls and booleans too) and reads them back in time order', async () => {
    const sut = await open();
    const { store } = sut;
    const samples: Sample[] = [
      { point: 'sat', ts: T0 + 2000, value: 18.5, quality: Quality.good },
      { point: 'sat', ts: T0, value: 18.25, quality: Quality.good },
      { point: 'fan', ts: T0, value: true, quality: Quality.good },
      { point: 'sat', ts: T0 + 1000, value: null, quality: Quality.bad },
    ];
    const r = await store.appendBatches([batch(1, samples)]);
    expect(r).toEqual({ stored: [{ deviceId: 'dev-1', epoch: 'e1', seq: 1 }], duplicates: [], conflicts: [], refused: [], samplesStored: 4 });
    const sat = store.findPointId('site-a', 'AHU-1', 'sat')!;
    const want = [
      { ts: T0, value: 18.25, quality: Quality.good }, { ts: T0 + 1000, value: null, quality: Quality.bad }, { ts: T0 + 2000, value: 18.5, quality: Quality.good },
    ];
    expect(await store.querySamples(sat, T0, T0 + 10_000, 100)).toEqual(want);
    const fan = store.findPointId('site-a', 'AHU-1', 'fan')!;
    expect(await store.querySamples(fan, T0, T0, 10)).toEqual([{ ts: T0, value: 1, quality: Quality.good }]);
    expect(store.latest(sat)).toEqual({ ts: T0 + 2000, value: 18.5, quality: Quality.good });
    expect(store.pointsOf('site-a', 'AHU-1').map((p) => p.point).sort()).toEqual(['fan', 'sat']);
    expect(store.describePoint(sat)).toEqual({ id: sat, site: 'site-a', asset: 'AHU-1', point: 'sat' });
    await sut.settle();
    expect(await store.querySamples(sat, T0, T0 + 10_000, 100)).toEqual(want);
  });

  it('gives a point one id for good, created on first ask', async () => {
    const { store } = await open();
    const id = await store.pointId('site-a', 'AHU-1', 'declared');
    expect(await store.pointId('site-a', 'AHU-1', 'declared')).toBe(id);
    expect(store.findPointId('site-a', 'AHU-1', 'declared')).toBe(id);
    expect(store.pointCount('site-a', 'AHU-1')).toBe(1);
    await store.appendBatches([batch(1, series('declared', T0, 2))]);
    expect(store.findPointId('site-a', 'AHU-1', 'declared')).toBe(id);
    expect(store.latest(id)).toMatchObject({ ts: T0 + 1000, value: 1 });
  });

  it('stores each batch once: redeliveries are duplicates, a reused identity with other samples a conflict, epochs separate', async () => {
    let sut = await open();
    await sut.store.appendBatches([batch(7, series('p', T0, 3))]);
    const r = await sut.store.appendBatches([
      batch(7, series('p', T0, 3)), batch(8, series('p', T0 + 3000, 2)),
      batch(7, series('p', T0 + 60_000, 3)), batch(7, series('p', T0 + 90_000, 3), { epoch: 'e2' }),
      batch(7, series('p', T0, 3), { deviceId: 'dev-2', asset: 'AHU-2' }),
    ]);
    expect(r.stored.map((b) => `${b.deviceId}/${b.epoch}/${b.seq}`)).toEqual(['dev-1/e1/8', 'dev-1/e2/7', 'dev-2/e1/7']);
    expect(r.duplicates).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 7 }]);
    expect(r.conflicts).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 7 }]);
    const p = sut.store.findPointId('site-a', 'AHU-1', 'p')!;
    expect(await sut.store.querySamples(p, T0, T0 + 1e6, 1000)).toHaveLength(8);
    // The same batch twice in one call is stored once.
    const twice = await sut.store.appendBatches([batch(9, series('p', T0 + 200_000, 2)), batch(9, series('p', T0 + 200_000, 2))]);
    expect(twice.stored).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 9 }]);
    expect(twice.duplicates).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 9 }]);
    expect(await sut.store.querySamples(p, T0, T0 + 1e6, 1000)).toHaveLength(10);
    // Across a restart too.
    await sut.settle();
    sut = await sut.reopen();
    harnesses.push(sut);
    const r2 = await sut.store.appendBatches([batch(7, series('p', T0, 3)), batch(8, series('p', T0 + 3000, 2))]);
    expect(r2.stored).toEqual([]);
    expect(r2.duplicates).toHaveLength(2);
  });

  it('asks the admission before creating points and stores nothing of a refused batch', async () => {
    const { store } = await open();
    const asked: [number, number][] = [];
    const r = await store.appendBatches([
      batch(1, [...series('a', T0, 2), ...series('b', T0, 2)]),
      batch(2, series('a', T0 + 5000, 2)),
      batch(3, [...series('a', T0 + 9000, 1), ...series('c', T0, 1)]),
    ], (_b, fresh, has) => {
      asked.push([fresh, has]);
      return has + fresh > 2 ? 'point_quota_exceeded' : undefined;
    });
    expect(asked).toEqual([[2, 0], [1, 2]]);
    expect(r.stored.map((b) => b.seq)).toEqual([1, 2]);
    expect(r.refused).toEqual([{ ref: { deviceId: 'dev-1', epoch: 'e1', seq: 3 }, reason: 'point_quota_exceeded' }]);
    expect(store.findPointId('site-a', 'AHU-1', 'c')).toBeUndefined();
    expect(store.pointCount('site-a', 'AHU-1')).toBe(2);
    const a = store.findPointId('site-a', 'AHU-1', 'a')!;
    expect(await store.querySamples(a, T0, T0 + 1e6, 100)).toHaveLength(4);
    // A refused batch was not stored: once admitted it is new, not a duplicate.
    expect((await store.appendBatches([batch(3, [...series('a', T0 + 9000, 1), ...series('c', T0, 1)])])).stored).toHaveLength(1);
    expect(await store.querySamples(a, T0, T0 + 1e6, 100)).toHaveLength(5);
  });

  it('reads every sample once across compacted blocks and raw samples, for any range and limit', async () => {
    const sut = await open();
    const { store } = sut;
    // 1,000 samples at 1 Hz in batches of 20, compacted part way, then more raw.
    let seq = 0;
    for (let i = 0; i < 700; i += 20) await store.appendBatches([batch(++seq, series('v', T0 + i * 1000, 20, 1000, (k) => i + k))]);
    await sut.settle();
    for (let i = 700; i < 1000; i += 20) await store.appendBatches([batch(++seq, series('v', T0 + i * 1000, 20, 1000, (k) => i + k))]);
    const id = store.findPointId('site-a', 'AHU-1', 'v')!;
    const all = await store.querySamples(id, T0, T0 + 2e6, 100_000);
    expect(all.map((s) => s.value)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (const [a, b, limit] of [[0, 999, 5000], [119, 121, 10], [118, 702, 50], [690, 705, 100], [0, 999, 3], [500, 500, 1]] as const) {
      const got = await store.querySamples(id, T0 + a * 1000, T0 + b * 1000, limit);
      const want = all.filter((s) => s.ts >= T0 + a * 1000 && s.ts <= T0 + b * 1000).slice(0, limit);
      expect(got).toEqual(want);
    }
  });

  it('puts late samples (older than what is compacted) in time order', async () => {
    const sut = await open();
    const { store } = sut;
    await store.appendBatches([batch(1, series('v', T0 + 100_000, 200))]);
    await sut.settle();
    await store.appendBatches([batch(2, series('v', T0, 50, 1000, (i) => -i))]);
    await store.appendBatches([batch(3, series('v', T0 + 50_500, 10, 100, () => 0.5))]);
    const id = store.findPointId('site-a', 'AHU-1', 'v')!;
    const check = async () => {
      const got = await store.querySamples(id, 0, T0 + 1e7, 10_000);
      expect(got).toHaveLength(260);
      expect(got.map((s) => s.ts)).toEqual([...got.map((s) => s.ts)].sort((x, y) => x - y));
      expect((await store.querySamples(id, 0, T0 + 1e7, 5)).map((s) => s.value)).toEqual([-0, -1, -2, -3, -4]);
    };
    await check();
    await sut.settle();
    await check();
  });

  it('aggregates buckets exactly as the raw computation does, whatever is compacted and whatever the width', async () => {
    const sut = await open();
    const { store } = sut;
    let run = 0;
    const sample = fc.record({
      dt: fc.integer({ min: 0, max: 4 * 3_600_000 }),
      value: fc.oneof(fc.constant(null), fc.integer({ min: -1000, max: 1000 }).map((x) => x / 10)),
    });
    await fc.assert(fc.asyncProperty(
      fc.array(sample, { minLength: 1, maxLength: 400 }),
      fc.constantFrom(1000, 7000, 60_000, 300_000, 2_220_000, 3_600_000, 7_200_000, 86_400_000),
      fc.integer({ min: 0, max: 3 }), fc.integer({ min: -3_600_000, max: 3_600_000 }), fc.integer({ min: 0, max: 5 * 3_600_000 }),
      async (samples, bucketMs, compactAfter, fromOffset, span) => {
        // Each run its own asset (and device): independent series in one store.
        const asset = `A${++run}`;
        const parts = [samples.slice(0, samples.length / 2), samples.slice(samples.length / 2)];
        for (const [k, part] of parts.entries()) {
          if (part.length === 0) continue;
          await store.appendBatches([batch(k + 1, part.map((s) => ({ point: 'v', ts: T0 + s.dt, value: s.value, quality: Quality.good })), { asset, deviceId: asset })]);
          if (compactAfter > k) await sut.settle();
        }
        const id = store.findPointId('site-a', asset, 'v')!;
        const from = T0 + fromOffset;
        const to = from + span;
        const raw = await store.querySamples(id, 0, T0 + 1e8, 100_000);
        expect(raw).toHaveLength(samples.length);
        expectBucketsClose(await store.queryBuckets(id, from, to, bucketMs), naiveBuckets(raw, from, to, bucketMs));
      },
    ), { numRuns: v.propertyRuns });
  });

  it('answers reads the same while compaction runs beside them', async () => {
    const sut = await open();
    const { store } = sut;
    const points = ['a', 'b', 'c', 'd'];
    let seq = 0;
    for (let i = 0; i < 1200; i += 100) {
      await store.appendBatches([batch(++seq, points.flatMap((p, k) => series(p, T0 + i * 1000, 100, 1000, (j) => (k % 2 === 0 && j % 9 === 0 ? null : (i + j) * (k + 1)))))]);
    }
    const ids = points.map((p) => store.findPointId('site-a', 'AHU-1', p)!);
    const raw = await Promise.all(ids.map((id) => store.querySamples(id, T0, T0 + 2e6, 100_000)));
    const minutes = await Promise.all(ids.map((id) => store.queryBuckets(id, T0 - 30_000, T0 + 1_300_000, 60_000)));
    raw.forEach((r) => expect(r).toHaveLength(1200));
    let compacting = true;
    const compaction = sut.settle().finally(() => { compacting = false; });
    let reads = 0;
    do {
      for (const [k, id] of ids.entries()) {
        expect(await store.querySamples(id, T0, T0 + 2e6, 100_000)).toEqual(raw[k]);
        expectBucketsClose(await store.queryBuckets(id, T0 - 30_000, T0 + 1_300_000, 60_000), minutes[k]!);
        reads++;
      }
    } while (compacting);
    await compaction;
    expect(reads).toBeGreaterThan(0);
    await sut.settle(); // what a read held back (SQLite defers sealing the points being read)
    for (const [k, id] of ids.entries()) {
      expect(await store.querySamples(id, T0, T0 + 2e6, 100_000)).toEqual(raw[k]);
      expectBucketsClose(await store.queryBuckets(id, T0 - 30_000, T0 + 1_300_000, 60_000), minutes[k]!);
    }
    expect((await store.storageReport()).headSamples).toBe(0);
  });

  it('exports several points as JSON and CSV with exactly what the reads return', async () => {
    const sut = await open();
    const { store } = sut;
    await store.appendBatches([batch(1, [...series('a', T0, 150), ...series('b', T0, 150, 1000, (i) => (i % 7 === 0 ? null : i / 4))])]);
    await sut.settle();
    await store.appendBatches([batch(2, [...series('a', T0 + 150_000, 30), ...series('b', T0 + 150_000, 30)])]);
    const points = ['a', 'b'].map((p) => store.describePoint(store.findPointId('site-a', 'AHU-1', p)!)!);
    const json = JSON.parse(await collect(store.exportSeries({ points, from: T0, to: T0 + 1e6, limit: 1000, format: 'json' }))) as {
      from: number; series: { point: { id: number; name: string }; samples: StoredSample[] }[];
    };
    expect(json.from).toBe(T0);
    for (const [i, p] of points.entries()) {
      expect(json.series[i]!.point).toEqual({ id: p.id, site: 'site-a', asset: 'AHU-1', name: p.point });
      expect(json.series[i]!.samples).toEqual(await store.querySamples(p.id, T0, T0 + 1e6, 1000));
    }
    const csv = (await collect(store.exportSeries({ points, from: T0, to: T0 + 1e6, limit: 1000, format: 'csv' }))).trim().split('\r\n');
    expect(csv[0]).toBe('point_id,site,asset,point,time,ts,value,quality');
    expect(csv).toHaveLength(1 + 360);
    expect(csv[1]).toBe(`${points[0]!.id},site-a,AHU-1,a,${new Date(T0).toISOString()},${T0},0,192`);
    expect(csv.find((l) => l.includes(',b,') && l.includes(`,${T0},`))).toBe(`${points[1]!.id},site-a,AHU-1,b,${new Date(T0).toISOString()},${T0},,192`);
    const single = JSON.parse(await collect(store.exportSeries({ points: [points[0]!], from: T0, to: T0 + 1e6, bucketMs: 60_000, limit: 1, format: 'json', shape: 'single' })));
    expect(single).toEqual({
      point: { id: points[0]!.id, site: 'site-a', asset: 'AHU-1', name: 'a' }, from: T0, to: T0 + 1e6, bucketMs: 60_000,
      buckets: await store.queryBuckets(points[0]!.id, T0, T0 + 1e6, 60_000),
    });
  });

  it('keeps every sample exactly once and the latest values across a restart, compacted or not', async () => {
    let sut = await open();
    await sut.store.appendBatches([batch(1, series('a', T0, 300)), batch(2, series('b', T0, 10), { deviceId: 'dev-2' })]);
    await sut.settle();
    await sut.store.appendBatches([batch(3, series('a', T0 + 300_000, 45))]);
    const a = sut.store.findPointId('site-a', 'AHU-1', 'a')!;
    const b = sut.store.findPointId('site-a', 'AHU-1', 'b')!;
    sut = await sut.reopen();
    harnesses.push(sut);
    expect(sut.store.findPointId('site-a', 'AHU-1', 'a')).toBe(a);
    const got = await sut.store.querySamples(a, T0, T0 + 1e6, 10_000);
    expect(got.map((s) => s.value)).toEqual([...Array.from({ length: 300 }, (_, i) => i), ...Array.from({ length: 45 }, (_, i) => i)]);
    // close() wrote the latest values the reopened store starts from.
    expect(sut.store.latest(a)).toEqual({ ts: T0 + 344_000, value: 44, quality: 192 });
    expect(sut.store.latest(b)).toEqual({ ts: T0 + 9000, value: 9, quality: 192 });
    await sut.settle();
    sut = await sut.reopen();
    harnesses.push(sut);
    expect(await sut.store.querySamples(a, T0, T0 + 1e6, 10_000)).toHaveLength(345);
  });

  it('refuses to work once closed', async () => {
    const sut = await open();
    await sut.store.appendBatches([batch(1, series('a', T0, 3))]);
    await sut.store.close();
    await expect(sut.store.appendBatches([batch(2, series('a', T0 + 3000, 3))])).rejects.toMatchObject({ code: 'telemetry_closed' });
    await expect(sut.store.querySamples(1, T0, T0 + 1000, 10)).rejects.toMatchObject({ code: 'telemetry_closed' });
  });

  it('deletes raw samples past their retention and keeps the roll-ups longer', async () => {
    const c = clock();
    const sut = await open({ clock: c, retention: { rawMs: DAY, minuteMs: 10 * DAY, hourMs: 100 * DAY } });
    const { store } = sut;
    await store.appendBatches([batch(1, series('v', T0, 600, 1000, () => 2))]);
    await sut.settle();
    const id = store.findPointId('site-a', 'AHU-1', 'v')!;
    c.set(T0 + 2 * DAY);
    await store.appendBatches([batch(2, series('v', T0 + 2 * DAY, 10, 1000, () => 4))]);
    await sut.settle();
    await sut.expire();
    const raw = await store.querySamples(id, 0, T0 + 1e10, 10_000);
    expect(raw.map((s) => s.value)).toEqual(new Array(10).fill(4));
    // The usage of the deleted chunks is given back.
    expect((await store.storageReport()).chunkSamples).toBe(10);
    // Whole minutes (the range aligned to them) are what the roll-ups answer once raw is gone.
    const m0 = T0 - (T0 % 60_000);
    const minutes = await store.queryBuckets(id, m0, m0 + 11 * 60_000 - 1, 60_000);
    expect(minutes.reduce((n, b) => n + b.count, 0)).toBe(600);
    c.set(T0 + 20 * DAY);
    await sut.expire();
    expect(await store.queryBuckets(id, m0, m0 + 11 * 60_000 - 1, 60_000)).toEqual([]);
    const hour = T0 - (T0 % 3_600_000);
    expect((await store.queryBuckets(id, hour, hour + 3_600_000 - 1, 3_600_000))[0]).toMatchObject({ count: 600, avg: 2 });
    expect((await store.storageReport()).chunkSamples).toBe(0);
  });

  it('reports where the disk goes: compacted and raw samples, batch rows, per site', async () => {
    const c = clock();
    const sut = await open({ clock: c });
    const { store } = sut;
    await store.appendBatches([batch(1, series('a', T0, 300)), batch(2, series('b', T0, 100), { site: 'site-b', deviceId: 'dev-2' })]);
    const before = await store.storageReport();
    expect(before).toMatchObject({ chunkSamples: 0, headSamples: 400, batchRows: 2 });
    await sut.settle();
    c.set(T0 + 61_000); // a completed minute for the rate
    const after = await store.storageReport();
    expect(after).toMatchObject({ chunkSamples: 400, headSamples: 0, batchRows: 2 });
    expect(after.fileBytes).toBeGreaterThan(0);
    expect(after.chunkBytes).toBeGreaterThan(0);
    expect(after.bytesPerSample).toBeLessThan(6);
    expect(after.sites.map((s) => [s.site, s.chunkSamples])).toEqual([['site-a', 300], ['site-b', 100]]);
    expect(after.sites[0]!.retention).toEqual({ rawMs: 90 * DAY, minuteMs: 400 * DAY, hourMs: 3650 * DAY });
    // Over the last hour of completed minutes.
    expect(after.sites[0]!.samplesPerSecond).toBeCloseTo(300 / 3600);
    expect(after.sites[0]!.projectedRawBytes).toBeGreaterThan(0);
  });

  it('prunes batch rows once no redelivery of them could be accepted, and only then', async () => {
    const c = clock();
    const sut = await open({ clock: c, dedupKeepMs: 10 * DAY });
    const { store } = sut;
    await store.appendBatches([batch(1, series('p', T0, 2)), batch(2, series('p', T0 + 2000, 2))]);
    expect(await sut.prune()).toBe(0); // marks seq 2 now
    c.set(T0 + 5 * DAY);
    await store.appendBatches([batch(3, series('p', T0 + 5 * DAY, 2))]);
    expect(await sut.prune()).toBe(0);
    c.set(T0 + 11 * DAY); // the first mark is 11 days old
    expect(await sut.prune()).toBe(2);
    const left = await t.database.db.selectFrom('batch_rows').select('seq').orderBy('seq').execute();
    expect(left.map((r) => r.seq)).toEqual([3]);
    expect((await store.storageReport()).batchRows).toBe(1);
  });

  it('refuses a reversed range, a zero limit and a zero bucket', async () => {
    const { store } = await open();
    await expect(store.querySamples(1, 10, 5, 10)).rejects.toMatchObject({ code: 'telemetry_bad_query' });
    await expect(store.querySamples(1, 0, 5, 0)).rejects.toMatchObject({ code: 'telemetry_bad_query' });
    await expect(store.queryBuckets(1, 0, 5, 0)).rejects.toMatchObject({ code: 'telemetry_bad_query' });
    expect(await store.querySamples(12345, 0, 5, 10)).toEqual([]);
  });

  // Replicas share PostgreSQL only: SQLite is one server's file, written by one process.
  describe.runIf(v.engine === 'postgres')('several replicas', () => {
    it('stores a batch delivered to two replicas at once exactly once', async () => {
      const a = await open();
      const b = await openHarness(v, t.reopen(), t, clock(), {});
      harnesses.push(b);
      for (let seq = 1; seq <= 20; seq++) {
        const one = batch(seq, [...series('p', T0 + seq * 10_000, 5), ...series(`new-${seq}`, T0, 1)]);
        const [ra, rb] = await Promise.all([a.store.appendBatches([one]), b.store.appendBatches([one])]);
        expect(ra.stored.length + rb.stored.length).toBe(1);
        expect(ra.duplicates.length + rb.duplicates.length).toBe(1);
      }
      await b.store.close();
      await (a.store as PostgresTelemetryStore).refresh();
      const p = a.store.findPointId('site-a', 'AHU-1', 'p')!;
      expect(await a.store.querySamples(p, 0, T0 + 1e6, 1000)).toHaveLength(100);
      expect(a.store.pointCount('site-a', 'AHU-1')).toBe(21);
    });

    it('counts an asset\'s points in the database, so two replicas cannot both admit the last one', async () => {
      const a = await open();
      const b = await openHarness(v, t.reopen(), t, clock(), {});
      harnesses.push(b);
      const quota = (_b: IncomingBatch, fresh: number, has: number) => (has + fresh > 3 ? 'point_quota_exceeded' : undefined);
      await a.store.appendBatches([batch(1, series('p1', T0, 1))], quota);
      // b has never heard of p1: the count it is given comes from the database.
      const asked: number[] = [];
      await b.store.appendBatches([batch(1, [...series('p1', T0, 1), ...series('p2', T0, 1)], { deviceId: 'dev-b' })], (x, fresh, has) => {
        asked.push(has);
        return quota(x, fresh, has);
      });
      expect(asked).toEqual([1]);
      const [ra, rb] = await Promise.all([
        a.store.appendBatches([batch(2, series('p3', T0, 1)), batch(3, series('p4', T0, 1))], quota),
        b.store.appendBatches([batch(2, series('p5', T0, 1), { deviceId: 'dev-b' }), batch(3, series('p6', T0, 1), { deviceId: 'dev-b' })], quota),
      ]);
      expect(ra.stored.length + rb.stored.length).toBe(1);
      const count = await t.database.db.selectFrom('series').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(3);
    });

    it('shows one replica the points, samples and latest values another ingested, after a refresh', async () => {
      const a = await open();
      const b = await openHarness(v, t.reopen(), t, clock(), {});
      harnesses.push(b);
      await a.store.appendBatches([batch(1, series('x', T0, 10))]);
      await (a.store as PostgresTelemetryStore).flushLatest();
      const id = a.store.findPointId('site-a', 'AHU-1', 'x')!;
      // Samples are the database's: readable at once. The catalog and latest values are memory: after a refresh.
      expect(await b.store.querySamples(id, T0, T0 + 1e6, 100)).toHaveLength(10);
      expect(b.store.findPointId('site-a', 'AHU-1', 'x')).toBeUndefined();
      await (b.store as PostgresTelemetryStore).refresh();
      expect(b.store.findPointId('site-a', 'AHU-1', 'x')).toBe(id);
      expect(b.store.latest(id)).toEqual({ ts: T0 + 9000, value: 9, quality: 192 });
      await a.store.appendBatches([batch(2, series('x', T0 + 10_000, 1, 1000, () => 42))]);
      await (a.store as PostgresTelemetryStore).flushLatest();
      await (b.store as PostgresTelemetryStore).refresh();
      expect(b.store.latest(id)).toEqual({ ts: T0 + 10_000, value: 42, quality: 192 });
    });

    it('lets one replica compact at a time, and either one answers every sample once', async () => {
      const a = await open();
      const b = await openHarness(v, t.reopen(), t, clock(), {});
      harnesses.push(b);
      let seq = 0;
      for (let i = 0; i < 20; i++) await a.store.appendBatches([batch(++seq, ['p', 'q', 'r'].flatMap((p) => series(p, T0 + i * 60_000, 60)))]);
      const pa = a.store as PostgresTelemetryStore;
      const pb = b.store as PostgresTelemetryStore;
      const [ra, rb] = await Promise.all([pa.compactAll(), pb.compactAll()]);
      expect([ra.ran, rb.ran].sort()).toEqual([false, true]);
      expect(ra.samplesCompacted + rb.samplesCompacted).toBe(3600);
      await pb.refresh();
      for (const p of ['p', 'q', 'r']) {
        const id = a.store.findPointId('site-a', 'AHU-1', p)!;
        expect(await a.store.querySamples(id, 0, T0 + 1e8, 10_000)).toHaveLength(1200);
        expect(await b.store.querySamples(id, 0, T0 + 1e8, 10_000)).toHaveLength(1200);
      }
    });
  });
});
