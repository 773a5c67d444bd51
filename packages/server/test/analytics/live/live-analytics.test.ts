import { describe, expect, it } from 'vitest';
import { Quality, type Sample } from '@shellguard/protocol';
import { openSqliteSqlDatabase } from '../../../src/db/sqlite-sql-database.ts';
import { HOUR_MS, LiveAnalytics, MINUTE_MS, type RecommendationEvidence, type ScoringHealth } from '../../../src/analytics/live/live-analytics.ts';
import type { Recommendation } from '../../../src/analytics/maintenance/maintenance-book.ts';
import { openBook } from '../maintenance/maintenance-fixture.ts';
import type { DetectorFactory } from '../../../src/analytics/detectors/detector.ts';
import { seededUniform } from '../../../src/testing/seeded-uniform.ts';

const T0 = 1_750_000_000_000 - (1_750_000_000_000 % HOUR_MS);
const SITE = 'dc1';
const PUMP = 'CHWP-1';
const VIB = 'bearing_vibration';
const LIMIT = 4.5;

/** Deterministic noise in [-1, 1] (mulberry32). */
/** Seeded uniform noise in [-1, 1). */
function noise(seed: number): () => number {
  const u = seededUniform(seed);
  return () => u() * 2 - 1;
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

/**
 * These runs feed hours of data in a fraction of a second: far beyond any real-time budget. The
 * budget's clock stands still here (no work is measured, none is refused); it is tested on its own below.
 */
const UNLIMITED = { clock: () => 0 };

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
      ...UNLIMITED,
      onScore: (_s, _a, _p, _ts, score) => scores.push(score),
      onSustained: (e) => { recs.push(e); recorded.push(book.recommend(e)); },
    });
    const rand = noise(7);
    // After the day the drift baseline learns from.
    const wearStart = T0 + 27 * HOUR_MS;
    let firstOverLimit = Infinity;
    run(live, 38, (ts) => 2 + 0.3 * Math.max(0, ts - wearStart) / HOUR_MS + 0.15 * rand(), (ts, v) => {
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

  it('learns a point\'s drift baseline over a day, not its first hour: a point that follows the daily load is not recommended', () => {
    // Load-following, as an AHU's fan current: low at night, high in the afternoon, plus noise.
    const rand = noise(3);
    const daily = (ts: number) => 10 + 2 * Math.sin((2 * Math.PI * (ts - T0)) / (24 * HOUR_MS)) + 0.1 * rand();
    const recsWith = (opts: { driftBaselineBuckets?: number }) => {
      const recs: RecommendationEvidence[] = [];
      const live = new LiveAnalytics({ ...UNLIMITED, ...opts, onSustained: (e) => recs.push(e) });
      run(live, 7 * 24, daily);
      return { recs, live };
    };
    // An hour's baseline (the old default) sees the afternoon as drift, every day.
    expect(recsWith({ driftBaselineBuckets: 60 }).recs.length).toBeGreaterThan(3);
    const { recs, live } = recsWith({});
    expect(recs).toEqual([]);
    const [p] = live.snapshot();
    expect(p).toMatchObject({ scoring: true, baselineLearned: true });
    // The learned spread holds the daily swing (a sine of amplitude 2 has a standard deviation of √2).
    expect(p!.baselineStd!).toBeGreaterThan(1.2);
  });

  it('does not count drift until the baseline is learned, and says so', () => {
    const scores: { ts: number; score: number }[] = [];
    const zeroDetector = { name: 'zero', create: () => ({ update: () => 0 }) };
    const live = new LiveAnalytics({ ...UNLIMITED, detector: zeroDetector, driftBaselineBuckets: 120, onScore: (_s, _a, _p, ts, score) => scores.push({ ts, score }) });
    // Flat for an hour, then a step far outside it while the baseline still learns (its second hour).
    run(live, 1.5, (ts) => (ts - T0 < HOUR_MS ? 2 : 9));
    live.flush(T0 + 1.5 * HOUR_MS + 10_000);
    expect(live.snapshot()[0]).toMatchObject({ scoring: true, baselineLearned: false, baselineMean: null, baselineStd: null });
    expect(live.scoreHistory(SITE, PUMP)[0]).toMatchObject({ scoring: true, baselineLearned: false });
    expect(Math.max(...scores.map((s) => s.score)), 'no drift score while learning').toBe(0);
    expect(scores).toHaveLength(90);
  });

  it('quotes the baseline learned so far when the detector alone recommends during the first day', () => {
    const recs: RecommendationEvidence[] = [];
    const alarmed: DetectorFactory = { name: 'one', create: () => ({ update: () => 1 }) };
    const live = new LiveAnalytics({ ...UNLIMITED, detector: alarmed, onSustained: (e) => recs.push(e) });
    const rand = noise(9);
    run(live, 3, () => 5 + 0.2 * rand());
    expect(live.snapshot()[0]!.baselineLearned).toBe(false);
    expect(recs).toHaveLength(1);
    expect(recs[0]!.baselineMean).toBeCloseTo(5, 1);
    expect(recs[0]!.baselineStd).toBeGreaterThan(0.05);
    expect(Number.isFinite(recs[0]!.zScore)).toBe(true);
  });

  it('follows slow normal change once learned, but not a developing fault', () => {
    const rand = noise(5);
    const recs: RecommendationEvidence[] = [];
    const zeroDetector = { name: 'zero', create: () => ({ update: () => 0 }) };
    const opts = { ...UNLIMITED, detector: zeroDetector, driftBaselineBuckets: 1_440, onSustained: (e: RecommendationEvidence) => recs.push(e) };
    // A filter loading: +1 σ of noise a day for ten days after the learned day.
    const loading = (ts: number) => 50 + 0.5 * Math.max(0, ts - T0 - 24 * HOUR_MS) / (24 * HOUR_MS) + 0.5 * rand();
    const following = new LiveAnalytics(opts);
    run(following, 11 * 24, loading);
    expect(recs, 'the baseline followed the slow loading').toEqual([]);
    const fixed = new LiveAnalytics({ ...opts, driftAdaptBuckets: 0 });
    run(fixed, 11 * 24, loading);
    expect(recs.length, 'a fixed baseline calls the same loading drift').toBeGreaterThan(0);
    recs.length = 0;
    // A fault: +1 σ an hour from the second day: recommended within hours, not learned.
    const fault = new LiveAnalytics(opts);
    const faultStart = T0 + 30 * HOUR_MS;
    run(fault, 40, (ts) => 50 + 0.5 * Math.max(0, ts - faultStart) / HOUR_MS + 0.5 * rand());
    expect(recs).toHaveLength(1);
    expect((recs[0]!.at - faultStart) / HOUR_MS).toBeLessThan(8);
    expect(recs[0]!.baselineMean).toBeCloseTo(50, 0);
  });

  it('recommends nothing for a flat noisy series', () => {
    const recs: RecommendationEvidence[] = [];
    let maxScore = 0;
    const live = new LiveAnalytics({ ...UNLIMITED, onSustained: (e) => recs.push(e), onScore: (_s, _a, _p, _ts, sc) => { maxScore = Math.max(maxScore, sc); } });
    const rand = noise(11);
    run(live, 48, () => 2 + 0.3 * rand());
    expect(recs).toEqual([]);
    console.log(`flat noisy series: highest smoothed score ${maxScore.toFixed(3)}`);
    expect(maxScore).toBeLessThan(0.5);
  });
});

describe('LiveAnalytics scoring budget', () => {
  /** A detector that takes `costMs` of the test's clock per update and records who was scored. */
  function timed(clock: { t: number }, costMs: number, scored: string[]): DetectorFactory {
    let next = 0;
    return { name: 'timed', create: () => { const id = `p${next++}`; return { update: () => { clock.t += costMs; scored.push(id); return 0; } }; } };
  }
  /**
   * One batch per minute with one sample of each of `points` points; the clock advances
   * `msPerMinute` before it, in `drains` steps each followed by a `drain()` (the server's 1 s flush).
   */
  function feed(live: LiveAnalytics, clock: { t: number }, points: number, fromMinute: number, minutes: number, msPerMinute: number, drains = 1): void {
    for (let m = fromMinute; m < fromMinute + minutes; m++) {
      for (let d = 0; d < drains; d++) {
        clock.t += msPerMinute / drains;
        if (d < drains - 1) live.drain();
      }
      live.ingestBatches([{ site: SITE, asset: PUMP, samples: Array.from({ length: points }, (_, i) => sample(`p${i}`, T0 + m * MINUTE_MS, 1 + i)) }]);
    }
  }

  it('scores every point at once while the budget lasts, and says it keeps up', () => {
    const clock = { t: 0 };
    const scored: string[] = [];
    const live = new LiveAnalytics({ detector: timed(clock, 1, scored), baselineBuckets: 2, multivariate: false, clock: () => clock.t, scoreShare: 0.5, scoreBurstMs: 20 });
    // 4 points x 1 ms a minute, 100 ms of clock a minute: a tenth of the budget.
    feed(live, clock, 4, 0, 30, 100);
    expect(live.stats()).toMatchObject({ degraded: false, degradedReason: null, bucketsSkipped: 0, pointsWaiting: 0, degradedEpisodes: 0 });
    expect(live.stats().minutesScored).toBe(4 * 29);
  });

  it('under overload scores fewer points, each in turn, says so once per episode, and recovers', () => {
    const clock = { t: 0 };
    const scored: string[] = [];
    const degraded: ScoringHealth[] = [];
    const recovered: ScoringHealth[] = [];
    const live = new LiveAnalytics({
      detector: timed(clock, 1, scored), baselineBuckets: 2, multivariate: false, clock: () => clock.t, scoreShare: 0.5, scoreBurstMs: 2,
      onDegraded: (h) => degraded.push(h), onRecovered: (h) => recovered.push(h),
    });
    // 20 points, 1 ms each a minute (20 ms), but only 10 ms of clock a minute (5 ms of work).
    feed(live, clock, 20, 0, 3, 10_000); // two buckets of baseline each
    // Starting a detector replays its baseline: 2 ms each, more than the 2 ms burst allows at once.
    for (let i = 0; i < 20 && live.stats().pointsWaiting > 0; i++) { clock.t += 10_000; live.drain(); }
    expect(live.stats()).toMatchObject({ pointsWaiting: 0, bucketsSkipped: 0, degraded: false });
    expect(live.snapshot().every((p) => p.scoring)).toBe(true);
    scored.length = 0;
    const before = live.stats().minutesScored;
    feed(live, clock, 20, 3, 120, 10);
    const s = live.stats();
    expect(s.degraded).toBe(true);
    expect(s.degradedReason).toMatch(/budget \(50 % of a core\) is spent/);
    expect(s.bucketsSkipped).toBeGreaterThan(0);
    expect(s.pointsWaiting).toBeGreaterThan(0);
    // Fewer scored than given (about a quarter: 5 of 20 a minute), and the work held to the budget.
    const scoredInOverload = s.minutesScored - before;
    expect(scoredInOverload).toBeLessThan(20 * 120 / 2);
    expect(scoredInOverload + s.bucketsSkipped + s.pointsWaiting).toBe(20 * 120);
    // Fair: every point scored, none starved; no point scored twice as often as another.
    const perPoint = new Map<string, number>();
    for (const id of scored) perPoint.set(id, (perPoint.get(id) ?? 0) + 1);
    expect(perPoint.size).toBe(20);
    const counts = [...perPoint.values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
    expect(degraded).toHaveLength(1);
    expect(degraded[0]).toMatchObject({ degraded: true, degradedEpisodes: 1 });
    expect(recovered).toEqual([]);

    // The load falls (a minute of clock per minute of data, drained every second): the queue
    // empties, and after two quiet buckets the episode ends, once.
    feed(live, clock, 20, 123, 5, MINUTE_MS, 60);
    for (let i = 0; i < 60; i++) { clock.t += 1000; live.drain(); }
    expect(live.stats()).toMatchObject({ degraded: false, degradedReason: null, pointsWaiting: 0, degradedEpisodes: 1 });
    expect(recovered).toHaveLength(1);
    expect(degraded).toHaveLength(1);
    // A second overload is a second episode, told again.
    feed(live, clock, 20, 128, 10, 10);
    expect(live.stats()).toMatchObject({ degraded: true, degradedEpisodes: 2 });
    expect(degraded).toHaveLength(2);
  });

  it('holds its points\' detectors within the memory budget: fewer contexts each when there may be many points', () => {
    // The default: 20,000 points in 8 GiB, 5,000 contexts each (detectors/detector-memory.ts).
    expect(new LiveAnalytics(UNLIMITED).stats().detectorMemory).toEqual({ budgetBytes: 8 * 1024 ** 3, contextsPerPoint: 5_000, bytesPerPoint: expect.any(Number) as number });
    const def = new LiveAnalytics(UNLIMITED).stats().detectorMemory;
    expect(def.bytesPerPoint! * 20_000).toBeLessThanOrEqual(def.budgetBytes);
    // A site of 5,000 points keeps the shipped cap (the ensemble's 10,000 contexts).
    expect(new LiveAnalytics({ ...UNLIMITED, maxPoints: 5_000 }).stats().detectorMemory.contextsPerPoint).toBe(10_000);
    // A detector given explicitly is used as it is.
    const given: DetectorFactory = { name: 'zero', create: () => ({ update: () => 0 }) };
    expect(new LiveAnalytics({ ...UNLIMITED, detector: given }).stats().detectorMemory).toMatchObject({ contextsPerPoint: null, bytesPerPoint: null });
    expect(() => new LiveAnalytics({ ...UNLIMITED, detectorMemoryBytes: 1024 ** 3 })).toThrow(/raise the budget or lower the number of points/);
    expect(() => new LiveAnalytics({ ...UNLIMITED, maxPoints: 0 })).toThrow(RangeError);
    // Capped, it still recommends a wearing bearing (the test above, with the default detector).
    const recs: RecommendationEvidence[] = [];
    const small = new LiveAnalytics({ ...UNLIMITED, maxPoints: 100, detectorMemoryBytes: 100 * 200_000, onSustained: (e) => recs.push(e) });
    expect(small.stats().detectorMemory.contextsPerPoint).toBe(1_000);
    const rand = noise(11);
    run(small, 30, (ts) => 1.2 + 0.05 * rand() + (ts > T0 + 25 * HOUR_MS ? (0.3 * (ts - T0 - 25 * HOUR_MS)) / HOUR_MS : 0));
    expect(recs.length).toBeGreaterThanOrEqual(1);
  });

  it('refuses a share outside (0, 1]', () => {
    expect(() => new LiveAnalytics({ scoreShare: 0 })).toThrow(RangeError);
    expect(() => new LiveAnalytics({ scoreShare: 1.5 })).toThrow(RangeError);
  });
});

describe('LiveAnalytics per asset (multivariate)', () => {
  /**
   * Three points driven by one hidden load (as an AHU's valve, supply and return temperatures
   * follow its duty), each with its own noise; at `faultAt` two of them drift apart from the load
   * by `drift` of their noise per hour: a broken relation no point shows alone at first.
   */
  function asset(hours: number, faultAt: number, drift: number, live: LiveAnalytics, onMinute?: (ts: number) => void): void {
    const rand = noise(3);
    for (let m = 0; m < hours * 60; m++) {
      const ts = T0 + m * MINUTE_MS;
      const load = Math.sin((2 * Math.PI * m) / 240);
      const f = ts >= faultAt ? (drift * (ts - faultAt)) / HOUR_MS : 0;
      live.ingestBatches([{ site: SITE, asset: 'AHU-1', samples: [
        sample('valve', ts, 50 + 10 * load + 0.5 * rand() + 0.5 * f), sample('supply', ts, 18 - 0.5 * load + 0.05 * rand() + 0.05 * f),
        sample('ret', ts, 24 + 1 * load + 0.1 * rand()), sample('setpoint', ts, 18),
      ] }]);
      onMinute?.(ts);
    }
  }

  it('recommends an asset whose points move together, with which moved, by how much and since when', () => {
    const recs: RecommendationEvidence[] = [];
    const live = new LiveAnalytics({ ...UNLIMITED, multivariateTrainBuckets: 600, multivariateScreenBuckets: 30, onAssetSustained: (e) => recs.push(e) });
    const faultAt = T0 + 12 * HOUR_MS;
    asset(20, faultAt, 1, live);
    expect(live.stats().assetModels).toEqual({ idle: 0, screening: 0, training: 0, scoring: 1 });
    expect(recs).toHaveLength(1);
    const rec = recs[0]!;
    expect(rec).toMatchObject({ site: SITE, asset: 'AHU-1', method: 'asset' });
    expect(rec.since).toBeGreaterThan(faultAt);
    expect(rec.at).toBeGreaterThanOrEqual(rec.since);
    // The constant setpoint is not in the vector; the two drifting points lead the moves.
    expect(rec.moves!.map((m) => m.point).sort()).toEqual(['ret', 'supply', 'valve']);
    expect(rec.moves!.slice(0, 2).map((m) => m.point).sort()).toEqual(['supply', 'valve']);
    const top = rec.moves![0]!;
    expect(rec).toMatchObject({ point: top.point, zScore: top.z, recentMean: top.value, baselineMean: top.normalMean, baselineStd: top.normalStd });
    expect(rec.moves!.reduce((a, m) => a + m.share, 0)).toBeCloseTo(1, 6);
    for (const m of rec.moves!) expect(m.normalStd).toBeGreaterThan(0);
    console.log(`asset-level: raised ${((rec.at - faultAt) / HOUR_MS).toFixed(2)} h after the drift began; `
      + rec.moves!.map((m) => `${m.point} z ${m.z.toFixed(1)} (${(m.share * 100).toFixed(0)} %)`).join(', '));
  });

  it('learns a new normal when told to (after a repair), so the next fault is recommended again', () => {
    // The same asset; at hour 12 a repair moves it for good (the valve sits 6 of its noise higher
    // at the same load), at hour 30 a fault begins against that new normal (the drift of the test
    // above). Told at hour 14 that the new state is normal, the asset relearns and sees the fault;
    // a twin that is not told stays in its first episode and never recommends the fault.
    const run2 = (relearnAt: number | undefined) => {
      const recs: RecommendationEvidence[] = [];
      // Trained over 12 h: three whole periods of the load, so the learned mean is the load's middle.
      const live = new LiveAnalytics({ ...UNLIMITED, multivariateTrainBuckets: 720, multivariateScreenBuckets: 30, onAssetSustained: (e) => recs.push(e) });
      const rand = noise(5);
      const phases: string[] = [];
      for (let m = 0; m < 48 * 60; m++) {
        const ts = T0 + m * MINUTE_MS;
        if (m === relearnAt) {
          expect(live.relearn(SITE, 'AHU-1')).toEqual({ points: 4, assetModel: true });
          phases.push(JSON.stringify(live.stats().assetModels));
          // Each point learns again too: its detector restarts and its drift baseline is relearned.
          for (const p of live.snapshot(SITE)) expect(p, p.point).toMatchObject({ score: 0, scoring: false, baselineLearned: false });
        }
        const load = Math.sin((2 * Math.PI * m) / 240);
        const repaired = m >= 12 * 60 ? 3 : 0;
        const f = m >= 30 * 60 ? (ts - (T0 + 30 * HOUR_MS)) / HOUR_MS : 0;
        live.ingestBatches([{ site: SITE, asset: 'AHU-1', samples: [
          sample('valve', ts, 50 + 10 * load + 0.5 * rand() + repaired + 0.5 * f), sample('supply', ts, 18 - 0.5 * load + 0.05 * rand() + 0.05 * f),
          sample('ret', ts, 24 + 1 * load + 0.1 * rand()), sample('setpoint', ts, 18),
        ] }]);
      }
      return { recs, phases, live };
    };
    const told = run2(14 * 60);
    // Screening again right after (the first vector of the new normal closes with the next bucket).
    expect(told.phases).toEqual([JSON.stringify({ idle: 0, screening: 1, training: 0, scoring: 0 })]);
    expect(told.live.stats().assetModels).toEqual({ idle: 0, screening: 0, training: 0, scoring: 1 });
    const repairAt = T0 + 12 * HOUR_MS;
    const faultAt = T0 + 30 * HOUR_MS;
    const relearnAt = T0 + 14 * HOUR_MS;
    // Before being told: the repair itself is a change, recommended once.
    expect(told.recs.filter((r) => r.at < relearnAt)).toHaveLength(1);
    expect(told.recs[0]!.since).toBeGreaterThanOrEqual(repairAt);
    // After: nothing for the new normal, then the fault, against the new normal.
    const after = told.recs.filter((r) => r.at >= relearnAt);
    expect(after).toHaveLength(1);
    expect(after[0]!.since).toBeGreaterThan(faultAt);
    expect(after[0]!.moves!.slice(0, 2).map((m) => m.point).sort()).toEqual(['supply', 'valve']);
    const untold = run2(undefined);
    expect(untold.recs).toHaveLength(1);
    expect(untold.recs[0]!.since).toBeLessThan(faultAt);
    // The new normal includes the repair's offset of 3.
    const valveNormal = (r: RecommendationEvidence) => r.moves!.find((m) => m.point === 'valve')!.normalMean;
    expect(valveNormal(untold.recs[0]!)).toBeCloseTo(50, 0);
    expect(valveNormal(after[0]!)).toBeCloseTo(53, 0);
    expect(told.live.relearn(SITE, 'no-such-asset')).toBeUndefined();
  });

  it('reports a relearned point\'s score as 0 at once, so an anomaly alarm on it can return to normal', () => {
    const scores: Array<{ point: string; ts: number; score: number }> = [];
    const live = new LiveAnalytics({ ...UNLIMITED, multivariate: false, onScore: (_s, _a, point, ts, score) => scores.push({ point, ts, score }) });
    const rand = noise(9);
    let ts = T0;
    const feed = (minutes: number, level: (m: number) => number) => {
      for (let m = 0; m < minutes; m++, ts += MINUTE_MS) {
        live.ingestBatches([{ site: SITE, asset: 'AHU-1', samples: [sample('fan_vibration', ts, level(m) + 0.05 * rand()), sample('quiet', ts, 5 + 0.05 * rand())] }]);
      }
    };
    feed(26 * 60, () => 2);
    // A step far outside anything learned: the vibration point's score climbs.
    feed(120, () => 6);
    const vib = live.snapshot(SITE).find((p) => p.point === 'fan_vibration')!;
    expect(vib.score).toBeGreaterThan(0.5);
    const before = scores.length;
    const lastTs = scores.filter((s) => s.point === 'fan_vibration').at(-1)!.ts;
    live.relearn(SITE, 'AHU-1');
    const told = scores.slice(before);
    // The vibration point (and any other with a score above 0) is told 0 at its last bucket's time...
    expect(told.find((s) => s.point === 'fan_vibration')).toEqual({ point: 'fan_vibration', ts: lastTs, score: 0 });
    expect(told.every((s) => s.score === 0)).toBe(true);
    // ...and nothing more is scored until its restarted detector has its probationary buckets.
    feed(30, () => 6);
    expect(scores.length).toBe(before + told.length);
  });

  it('recommends nothing for the same asset without a fault, and can be turned off', () => {
    const recs: RecommendationEvidence[] = [];
    const live = new LiveAnalytics({ ...UNLIMITED, multivariateTrainBuckets: 600, multivariateScreenBuckets: 30, onAssetSustained: (e) => recs.push(e) });
    asset(20, Infinity, 0, live);
    expect(recs).toEqual([]);
    const off = new LiveAnalytics({ ...UNLIMITED, multivariate: false, onAssetSustained: (e) => recs.push(e) });
    asset(2, Infinity, 0, off);
    expect(off.stats().assetModels).toEqual({ idle: 0, screening: 0, training: 0, scoring: 0 });
  });
});

