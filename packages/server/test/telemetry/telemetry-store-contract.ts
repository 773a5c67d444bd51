/**
 * The contract of the TelemetryStore port (STYLE.md §2): one suite, run against every
 * implementation (the SQLite store now; PostgreSQL when the scale-out work comes). What a user of
 * the port may rely on: exactly-once appends, reads that return every stored sample of the range
 * once and in order whatever part is sealed, buckets equal to the raw computation, retention,
 * and all of it across a restart.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Quality, type Sample } from '@shellguard/protocol';
import type { IncomingBatch, SampleBucket, StoredSample, TelemetryStore } from '../../src/telemetry/telemetry-store.ts';

export interface StoreUnderTest {
  store: TelemetryStore;
  /** Lets background work finish: everything in memory sealed into chunks and checkpointed. */
  settle(): Promise<void>;
  /** Runs retention as the store does on its own schedule. */
  expire(): Promise<void>;
  /** Closes and opens the store again on the same data. */
  reopen(): Promise<StoreUnderTest>;
  close(): Promise<void>;
}

export interface ContractClock {
  now: () => number;
  set(ms: number): void;
}

export type OpenStore = (options: { clock: ContractClock; retention?: { rawMs: number; minuteMs: number; hourMs: number } }) => Promise<StoreUnderTest>;

export const T0 = 1_750_000_000_000;

export function batch(seq: number, samples: Sample[], opts: { deviceId?: string; asset?: string; epoch?: string; site?: string } = {}): IncomingBatch {
  return { deviceId: opts.deviceId ?? 'dev-1', site: opts.site ?? 'site-a', asset: opts.asset ?? 'AHU-1', epoch: opts.epoch ?? 'e1', seq, samples };
}

export function series(point: string, from: number, count: number, step = 1000, value = (i: number): number | null => i): Sample[] {
  return Array.from({ length: count }, (_, i) => ({ point, ts: from + i * step, value: value(i), quality: Quality.good }));
}

/** The raw computation buckets must equal. */
export function naiveBuckets(samples: readonly StoredSample[], from: number, to: number, bucketMs: number): SampleBucket[] {
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

function clock(start = T0): ContractClock {
  let t = start;
  return { now: () => t, set: (ms) => { t = ms; } };
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(Buffer.from(p));
  return Buffer.concat(parts).toString('utf8');
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function expectBucketsClose(got: SampleBucket[], want: SampleBucket[]): void {
  expect(got.map((b) => [b.ts, b.min, b.max, b.count])).toEqual(want.map((b) => [b.ts, b.min, b.max, b.count]));
  got.forEach((b, i) => expect(close(b.avg, want[i]!.avg), `avg of bucket ${b.ts}: ${b.avg} vs ${want[i]!.avg}`).toBe(true));
}

export function describeTelemetryStoreContract(name: string, open: OpenStore, options: { propertyRuns?: number } = {}): void {
  describe(`TelemetryStore contract: ${name}`, () => {
    it('stores samples (nulls and booleans too) and reads them back in time order', async () => {
      const sut = await open({ clock: clock() });
      try {
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
        await sut.settle();
        expect(await store.querySamples(sat, T0, T0 + 10_000, 100)).toEqual(want);
      } finally {
        await sut.close();
      }
    });

    it('stores each batch once: redeliveries are duplicates, a reused identity with other samples a conflict, epochs separate', async () => {
      const sut = await open({ clock: clock() });
      try {
        const { store } = sut;
        await store.appendBatches([batch(7, series('p', T0, 3))]);
        const r = await store.appendBatches([
          batch(7, series('p', T0, 3)), batch(8, series('p', T0 + 3000, 2)),
          batch(7, series('p', T0 + 60_000, 3)), batch(7, series('p', T0 + 90_000, 3), { epoch: 'e2' }),
          batch(7, series('p', T0, 3), { deviceId: 'dev-2', asset: 'AHU-2' }),
        ]);
        expect(r.stored.map((b) => `${b.deviceId}/${b.epoch}/${b.seq}`)).toEqual(['dev-1/e1/8', 'dev-1/e2/7', 'dev-2/e1/7']);
        expect(r.duplicates).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 7 }]);
        expect(r.conflicts).toEqual([{ deviceId: 'dev-1', epoch: 'e1', seq: 7 }]);
        const p = store.findPointId('site-a', 'AHU-1', 'p')!;
        expect(await store.querySamples(p, T0, T0 + 1e6, 1000)).toHaveLength(8);
        // Across a restart too.
        await sut.settle();
        const again = await sut.reopen();
        Object.assign(sut, again);
        const r2 = await again.store.appendBatches([batch(7, series('p', T0, 3)), batch(8, series('p', T0 + 3000, 2))]);
        expect(r2.stored).toEqual([]);
        expect(r2.duplicates).toHaveLength(2);
      } finally {
        await sut.close();
      }
    });

    it('asks the admission before creating points and stores nothing of a refused batch', async () => {
      const sut = await open({ clock: clock() });
      try {
        const { store } = sut;
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
        expect((await store.appendBatches([batch(3, [...series('a', T0 + 9000, 1), ...series('c', T0, 1)])])).stored).toHaveLength(1);
      } finally {
        await sut.close();
      }
    });

    it('reads every sample once across sealed blocks and the head, for any range and limit', async () => {
      const sut = await open({ clock: clock() });
      try {
        const { store } = sut;
        // 1,000 samples at 1 Hz in batches of 20, sealed part way, then more in the head.
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
      } finally {
        await sut.close();
      }
    });

    it('puts late samples (older than what is sealed) in time order', async () => {
      const sut = await open({ clock: clock() });
      try {
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
      } finally {
        await sut.close();
      }
    });

    it('aggregates buckets exactly as the raw computation does, whatever is sealed and whatever the width', async () => {
      const sample = fc.record({
        dt: fc.integer({ min: 0, max: 4 * 3_600_000 }),
        value: fc.oneof(fc.constant(null), fc.integer({ min: -1000, max: 1000 }).map((v) => v / 10)),
      });
      await fc.assert(fc.asyncProperty(
        fc.array(sample, { minLength: 1, maxLength: 400 }),
        fc.constantFrom(1000, 7000, 60_000, 300_000, 2_220_000, 3_600_000, 7_200_000, 86_400_000),
        fc.integer({ min: 0, max: 3 }), fc.integer({ min: -3_600_000, max: 3_600_000 }), fc.integer({ min: 0, max: 5 * 3_600_000 }),
        async (samples, bucketMs, sealAfter, fromOffset, span) => {
          const sut = await open({ clock: clock() });
          try {
            const { store } = sut;
            const chunks = [samples.slice(0, samples.length / 2), samples.slice(samples.length / 2)];
            for (const [k, part] of chunks.entries()) {
              if (part.length === 0) continue;
              await store.appendBatches([batch(k + 1, part.map((s) => ({ point: 'v', ts: T0 + s.dt, value: s.value, quality: Quality.good })))]);
              if (sealAfter > k) await sut.settle();
            }
            const id = store.findPointId('site-a', 'AHU-1', 'v')!;
            const from = T0 + fromOffset;
            const to = from + span;
            const raw = await store.querySamples(id, 0, T0 + 1e8, 100_000);
            expectBucketsClose(await store.queryBuckets(id, from, to, bucketMs), naiveBuckets(raw, from, to, bucketMs));
          } finally {
            await sut.close();
          }
        },
      ), { numRuns: options.propertyRuns ?? 40 });
    });

    it('exports several points as JSON and CSV with exactly what the reads return', async () => {
      const sut = await open({ clock: clock() });
      try {
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
      } finally {
        await sut.close();
      }
    });

    it('keeps every sample exactly once across a restart, sealed or not', async () => {
      let sut = await open({ clock: clock() });
      try {
        await sut.store.appendBatches([batch(1, series('a', T0, 300)), batch(2, series('b', T0, 10), { deviceId: 'dev-2' })]);
        await sut.settle();
        await sut.store.appendBatches([batch(3, series('a', T0 + 300_000, 45))]);
        const a = sut.store.findPointId('site-a', 'AHU-1', 'a')!;
        sut = await sut.reopen();
        expect(sut.store.findPointId('site-a', 'AHU-1', 'a')).toBe(a);
        const got = await sut.store.querySamples(a, T0, T0 + 1e6, 10_000);
        expect(got.map((s) => s.value)).toEqual([...Array.from({ length: 300 }, (_, i) => i), ...Array.from({ length: 45 }, (_, i) => i)]);
        expect(sut.store.latest(a)).toEqual({ ts: T0 + 344_000, value: 44, quality: 192 });
        await sut.settle();
        sut = await sut.reopen();
        expect(await sut.store.querySamples(a, T0, T0 + 1e6, 10_000)).toHaveLength(345);
      } finally {
        await sut.close();
      }
    });

    it('deletes raw samples past their retention and keeps the roll-ups longer', async () => {
      const c = clock();
      const sut = await open({ clock: c, retention: { rawMs: 86_400_000, minuteMs: 10 * 86_400_000, hourMs: 100 * 86_400_000 } });
      try {
        const { store } = sut;
        await store.appendBatches([batch(1, series('v', T0, 600, 1000, () => 2))]);
        await sut.settle();
        const id = store.findPointId('site-a', 'AHU-1', 'v')!;
        c.set(T0 + 2 * 86_400_000);
        await store.appendBatches([batch(2, series('v', T0 + 2 * 86_400_000, 10, 1000, () => 4))]);
        await sut.settle();
        await sut.expire();
        const raw = await store.querySamples(id, 0, T0 + 1e10, 10_000);
        expect(raw.map((s) => s.value)).toEqual(new Array(10).fill(4));
        // The minute and hour buckets of the first day are still there.
        // Whole minutes (the range aligned to them) are what the roll-ups answer once raw is gone.
        const m0 = T0 - (T0 % 60_000);
        const minutes = await store.queryBuckets(id, m0, m0 + 11 * 60_000 - 1, 60_000);
        expect(minutes.reduce((n, b) => n + b.count, 0)).toBe(600);
        c.set(T0 + 20 * 86_400_000);
        await sut.expire();
        expect(await store.queryBuckets(id, m0, m0 + 11 * 60_000 - 1, 60_000)).toEqual([]);
        const hour = T0 - (T0 % 3_600_000);
        expect((await store.queryBuckets(id, hour, hour + 3_600_000 - 1, 3_600_000))[0]).toMatchObject({ count: 600, avg: 2 });
      } finally {
        await sut.close();
      }
    });
  });
}
