import { describe, expect, it } from 'vitest';
import { Quality, type Sample } from '@shellguard/protocol';
import { openSqliteSqlDatabase } from '../../../src/db/sqlite-sql-database.ts';
import { HOUR_MS, LiveAnalytics, MINUTE_MS, type RecommendationEvidence } from '../../../src/analytics/live/live-analytics.ts';
import type { Recommendation } from '../../../src/analytics/maintenance/maintenance-book.ts';
import { openBook } from '../maintenance/maintenance-fixture.ts';
import type { DetectorFactory } from '../../../src/analytics/detectors/detector.ts';

const T0 = 1_750_000_000_000 - (1_750_000_000_000 % HOUR_MS);
const SITE = 'dc1';
const PUMP = 'CHWP-1';
const VIB = 'bearing_vibration';
const LIMIT = 4.5;

/** Deterministic noise in [-1, 1] (mulberry32). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

const sample = (point: string, ts: number, value: number | boolean | null, quality: number = Quality.good): Sample =>
  ({ point, ts, value, quality } as Sample);

/** Feeds one batch per minute of 10-second samples of `valueAt(ts)`. */
function run(live: LiveAnalytics, hours: number, valueAt: (ts: number) => number, onSample?: (ts: number, v: number) => void): void {
  for (let m = 0; m < hours * 60; m++) {
    const samples: Sample[] = [];
    for (let s = 0; s < 6; s++) {
      const ts = T0 + m * MINUTE_MS + s * 10_000;
      const v = valueAt(ts);
      onSample?.(ts, v);
      samples.push(sample(VIB, ts, v));
    }
    live.ingestBatches([{ site: SITE, asset: PUMP, samples }]);
  }
}

describe('LiveAnalytics', () => {
  it('keeps the last 60 scores of each point, oldest first, for charts (none while the baseline is learned)', () => {
    const scored: { ts: number; score: number }[] = [];
    const half: DetectorFactory = { name: 'half', create: () => ({ update: () => 0.5 }) };
    const live = new LiveAnalytics({ detector: half, baselineBuckets: 10, onScore: (_s, _a, _p, ts, score) => scored.push({ ts, score }) });
    run(live, 0.1, () => 1); // 6 minutes: still learning
    expect(live.scoreHistory(SITE, PUMP)).toEqual([expect.objectContaining({ point: VIB, scoring: false, ts: [], scores: [], baselineMean: null })]);
    run(live, 2, () => 1);
    const [h] = live.scoreHistory(SITE, PUMP);
    expect(h!.scoring).toBe(true);
    expect(h!.ts).toHaveLength(60);
    expect(h!.ts).toEqual(scored.slice(-60).map((s) => s.ts));
    expect(h!.scores).toEqual(scored.slice(-60).map((s) => s.score));
    expect(h!.ts.every((t, i) => i === 0 || t > h!.ts[i - 1]!)).toBe(true);
    expect(h!.score).toBe(scored.at(-1)!.score);
    expect(live.scoreHistory(SITE, 'nope')).toEqual([]);
  });

  it('aggregates samples into 1-minute means and skips booleans and bad reads', () => {
    const minutes: { ts: number; value: number }[] = [];
    const recorder: DetectorFactory = { name: 'rec', create: () => ({ update: (s) => { minutes.push(s); return 0; } }) };
    const live = new LiveAnalytics({ detector: recorder, baselineBuckets: 2 });
    live.ingestBatches([{ site: SITE, asset: PUMP, samples: [
      sample(VIB, T0 + 1_000, 1), sample(VIB, T0 + 30_000, 3), sample('running', T0 + 30_000, true),
      sample(VIB, T0 + 40_000, null, Quality.bad), sample(VIB, T0 + 50_000, 99, Quality.uncertain),
      sample(VIB, T0 + 61_000, 10), sample(VIB, T0 + 119_000, 20),
    ] }]);
    expect(minutes).toEqual([]);
    live.ingestBatches([{ site: SITE, asset: PUMP, samples: [sample(VIB, T0 + 121_000, 7)] }]);
    // The second minute closed: the buffer (2 minutes) is full, the detector created and the buffer replayed.
    expect(minutes).toEqual([{ ts: T0 + MINUTE_MS, value: 2 }, { ts: T0 + 2 * MINUTE_MS, value: 15 }]);
    live.flush(T0 + 3 * MINUTE_MS + 5_000);
    expect(minutes.at(-1)).toEqual({ ts: T0 + 3 * MINUTE_MS, value: 7 });
    expect(live.snapshot().map((p) => p.point)).toEqual([VIB]);
  });

  it('creates the detector only once the baseline buffer is full, with the buffered range plus a margin', () => {
    const created: { inputMin: number; inputMax: number; probationaryPeriod: number }[] = [];
    const spy: DetectorFactory = { name: 'spy', create: (o) => { created.push(o); return { update: () => 0 }; } };
    const live = new LiveAnalytics({ detector: spy, baselineBuckets: 60, rangeMargin: 0.25 });
    run(live, 1, (ts) => 2 + ((ts - T0) / HOUR_MS)); // 2 → 3 over the hour
    expect(created).toEqual([]);
    expect(live.snapshot()[0]!.scoring).toBe(false);
    live.flush(T0 + HOUR_MS + 10_000);
    expect(created).toHaveLength(1);
    expect(created[0]!.inputMin).toBeLessThan(2);
    expect(created[0]!.inputMax).toBeGreaterThan(3);
    expect(live.snapshot()[0]!.scoring).toBe(true);
  });

  it('caps the number of tracked points and counts what it refused', () => {
    const live = new LiveAnalytics({ maxPoints: 2 });
    live.ingestBatches([{ site: SITE, asset: PUMP, samples: [sample('a', T0, 1), sample('b', T0, 1), sample('c', T0, 1), sample('c', T0 + 1, 1)] }]);
    expect(live.stats()).toMatchObject({ points: 2, droppedPointSamples: 2 });
  });

  it('recommends maintenance of a wearing bearing (+0.3 mm/s per hour) before the 4.5 mm/s limit', async () => {
    const database = openSqliteSqlDatabase(':memory:');
    let clock = T0;
    const book = await openBook(database, { now: () => clock, pointId: () => 42 });
    const recorded: Promise<Recommendation>[] = [];
    const scores: number[] = [];
    const recs: RecommendationEvidence[] = [];
    const live = new LiveAnalytics({
      onScore: (_s, _a, _p, _ts, score) => scores.push(score),
      onSustained: (e) => { recs.push(e); recorded.push(book.recommend(e)); },
    });
    const rand = noise(7);
    const wearStart = T0 + 3 * HOUR_MS;
    let firstOverLimit = Infinity;
    run(live, 14, (ts) => 2 + 0.3 * Math.max(0, ts - wearStart) / HOUR_MS + 0.15 * rand(), (ts, v) => {
      clock = ts;
      if (v >= LIMIT && ts < firstOverLimit) firstOverLimit = ts;
    });
    expect(recs).toHaveLength(1);
    const rec = recs[0]!;
    expect(rec).toMatchObject({ site: SITE, asset: PUMP, point: VIB });
    expect(rec.since).toBeGreaterThan(wearStart);
    expect(rec.at).toBeLessThan(firstOverLimit);
    expect(rec.recentMean).toBeGreaterThan(rec.baselineMean);
    expect(rec.baselineMean).toBeCloseTo(2, 1);
    expect(rec.zScore).toBeGreaterThan(3);
    const leadHours = (firstOverLimit - rec.at) / HOUR_MS;
    const detectHours = (rec.at - wearStart) / HOUR_MS;
    console.log(`bearing wear: recommended ${detectHours.toFixed(2)} h after wear began, at ${rec.recentMean.toFixed(2)} mm/s `
      + `(z ${rec.zScore.toFixed(1)}), ${leadHours.toFixed(2)} h before the first sample over ${LIMIT} mm/s`);
    expect(leadHours).toBeGreaterThan(4);
    await Promise.all(recorded);
    const stored = await book.recommendations();
    await database.close();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.chart).toBe(`/api/v1/points/42/samples?from=${rec.since - HOUR_MS}&to=${rec.at + MINUTE_MS}&bucket=60000`);
    expect(Math.max(...scores)).toBeLessThanOrEqual(1);
  });

  it('recommends nothing for a flat noisy series', () => {
    const recs: RecommendationEvidence[] = [];
    let maxScore = 0;
    const live = new LiveAnalytics({ onSustained: (e) => recs.push(e), onScore: (_s, _a, _p, _ts, sc) => { maxScore = Math.max(maxScore, sc); } });
    const rand = noise(11);
    run(live, 24, () => 2 + 0.3 * rand());
    expect(recs).toEqual([]);
    console.log(`flat noisy series: highest smoothed score ${maxScore.toFixed(3)}`);
    expect(maxScore).toBeLessThan(0.5);
  });
});
