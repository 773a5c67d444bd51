/**
 * Live analytics (issue 4): stored telemetry → bucket means per analog point → anomaly score.
 *
 * A bucket is a minute (`bucketMs`, default 60 000). Why minute means: slow faults (bearing wear,
 * coolant drift) develop over hours, and the detectors were tuned on NAB, whose series are mostly
 * 5-minute data. Every duration below is counted in buckets, so a time-compressed demo (issue 9:
 * 1-second buckets, a fault sixty times faster or more) runs the same analytics, only faster.
 * Per point:
 *
 * 1. samples are summed into the current bucket (O(1), no allocation); a sample of a later bucket
 *    closes the bucket and emits its mean (`flush(now)` closes buckets nobody follows);
 * 2. the first `baselineBuckets` means are buffered: they set the detector's inputMin/inputMax
 *    (with a margin) and the point's baseline (mean, standard deviation);
 * 3. then the `shellguard` detector is created and the buffer replayed; every bucket mean from
 *    then on gets a score.
 *
 * The score of a bucket is max(detector score, drift score). The detector (CAD + Gaussian
 * surprise) catches changes of pattern but learns a slow ramp as the new normal; the drift score
 * catches the ramp: it maps the z-score of the recent level (an EWMA of the bucket means) against
 * the baseline linearly from 0 at `driftZLow` to 1 at `driftZHigh`. The score sent to `onScore`
 * and kept per point is an EWMA of that (`scoreSmoothing`), so one odd bucket does not count.
 *
 * A point whose smoothed score stays at or above `recommendThreshold` for `sustainMs` produces one
 * maintenance recommendation per episode; the episode ends when the score falls below
 * `releaseThreshold`.
 *
 * Bounded: at most `maxPoints` points are tracked; further points are counted and ignored.
 */
import { Quality, type Sample } from '@shellguard/protocol';
import type { DetectorFactory, StreamingDetector } from '../detectors/detector.ts';
import { shellguard } from '../detectors/shellguard.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** The default bucket: a minute. */
export const DEFAULT_BUCKET_MS = MINUTE_MS;

/** The part of a stored batch live analytics reads (ingest's `IncomingBatch` fits). */
export interface StoredBatchView {
  site: string;
  asset: string;
  samples: readonly Sample[];
}

/** What a recommendation says about its point when it is raised (see maintenance-book.ts). */
export interface RecommendationEvidence {
  site: string;
  asset: string;
  point: string;
  /** Start of the first bucket whose smoothed score was above the threshold, in this episode. */
  since: number;
  /** End of the last bucket seen when the recommendation was raised. */
  at: number;
  /** Mean of the last `recentBuckets` bucket means. */
  recentMean: number;
  baselineMean: number;
  baselineStd: number;
  /** (recentMean − baselineMean) / baselineStd: how far from normal. */
  zScore: number;
  /** Smoothed anomaly score when raised. */
  score: number;
}

export interface LiveAnalyticsOptions {
  /** Receives every smoothed score (the server wires it to `alarms.evaluateScore`). */
  onScore?: (site: string, asset: string, point: string, ts: number, score: number) => void;
  /** Called once per sustained episode (the server wires it to `maintenance.recommend`). */
  onSustained?: (evidence: RecommendationEvidence) => void;
  detector?: DetectorFactory;
  /** Length of a bucket, ms (default 60 000: minute means; at least 100). */
  bucketMs?: number;
  /** Bucket means buffered before the detector starts (default 60). */
  baselineBuckets?: number;
  /** Margin added on both sides of the buffered range, as a share of the range (default 0.25). */
  rangeMargin?: number;
  /** Detector learning period in bucket means (default 120). */
  probationaryBuckets?: number;
  /** Weight of the newest bucket score in the smoothed score (default 0.1: about 10 buckets). */
  scoreSmoothing?: number;
  /** Weight of the newest bucket mean in the recent level (default 0.1). */
  levelSmoothing?: number;
  driftZLow?: number;
  driftZHigh?: number;
  /** Floor of the baseline standard deviation, as a share of |baseline mean| (default 0.01). */
  relativeStdFloor?: number;
  recommendThreshold?: number;
  releaseThreshold?: number;
  /** How long the smoothed score must stay above the threshold, ms (default 30 buckets: 30 min). */
  sustainMs?: number;
  /** Bucket means averaged for the evidence's recent mean (default 15). */
  recentBuckets?: number;
  /** Hard cap on tracked points (default 20 000). */
  maxPoints?: number;
}

/** One tracked point as the health and peers views read it. */
export interface PointSnapshot {
  site: string;
  asset: string;
  point: string;
  /** Smoothed anomaly score in [0, 1]; 0 while the baseline is being learned. */
  score: number;
  /** true once the baseline is learned and the detector runs. */
  scoring: boolean;
  /** End of the last closed bucket (a minute by default), or null if none closed yet. */
  lastMinuteTs: number | null;
  baselineMean: number | null;
  baselineStd: number | null;
}

export interface PointScoreHistory {
  point: string;
  score: number;
  scoring: boolean;
  bucketMs: number;
  baselineMean: number | null;
  baselineStd: number | null;
  /** End of each scored bucket, oldest first (at most 60). */
  ts: number[];
  scores: number[];
}

export interface LiveAnalyticsStats {
  points: number;
  /** Samples of points refused because `maxPoints` was reached. */
  droppedPointSamples: number;
  /** Samples older than the point's open bucket. */
  lateSamples: number;
  /** Bucket means scored (minutes by default; the name predates `bucketMs`). */
  minutesScored: number;
}

const HOUR_RING = 60;

class PointState {
  /** Index of the open bucket (ts / bucketMs), -1 before the first sample. */
  bucket = -1;
  sum = 0;
  count = 0;
  readonly buffer: Float64Array;
  readonly bufferTs: Float64Array;
  buffered = 0;
  detector: StreamingDetector | null = null;
  baselineMean = 0;
  baselineStd = 0;
  level = 0;
  score = 0;
  lastBucketTs = -1;
  /** The last 60 bucket means (ring: an hour by default), for recent means and peers. */
  readonly ringValue = new Float64Array(HOUR_RING);
  readonly ringTs = new Float64Array(HOUR_RING);
  ringNext = 0;
  ringSize = 0;
  /** The last 60 smoothed scores (ring), for charts that overlay the score on the values. */
  readonly scoreValue = new Float64Array(HOUR_RING);
  readonly scoreTs = new Float64Array(HOUR_RING);
  scoreNext = 0;
  scoreSize = 0;
  aboveSince = -1;
  recommended = false;
  constructor(readonly site: string, readonly asset: string, readonly point: string, baselineBuckets: number) {
    this.buffer = new Float64Array(baselineBuckets);
    this.bufferTs = new Float64Array(baselineBuckets);
  }
}

export class LiveAnalytics {
  private readonly onScore: NonNullable<LiveAnalyticsOptions['onScore']>;
  private readonly onSustained: NonNullable<LiveAnalyticsOptions['onSustained']>;
  private readonly detector: DetectorFactory;
  private readonly o: Required<Omit<LiveAnalyticsOptions, 'onScore' | 'onSustained' | 'detector'>>;
  /** site → asset → point: nested maps, so the hot path builds no key strings. */
  private readonly points = new Map<string, Map<string, Map<string, PointState>>>();
  private readonly stats_: LiveAnalyticsStats = { points: 0, droppedPointSamples: 0, lateSamples: 0, minutesScored: 0 };

  constructor(opts: LiveAnalyticsOptions = {}) {
    this.onScore = opts.onScore ?? (() => {});
    this.onSustained = opts.onSustained ?? (() => {});
    this.detector = opts.detector ?? shellguard;
    const bucketMs = opts.bucketMs ?? DEFAULT_BUCKET_MS;
    if (!Number.isInteger(bucketMs) || bucketMs < 100) throw new RangeError(`bucketMs must be a whole number of ms, 100 or more (got ${bucketMs})`);
    this.o = {
      bucketMs,
      baselineBuckets: Math.max(2, Math.trunc(opts.baselineBuckets ?? 60)),
      rangeMargin: opts.rangeMargin ?? 0.25,
      probationaryBuckets: opts.probationaryBuckets ?? 120,
      scoreSmoothing: opts.scoreSmoothing ?? 0.1,
      levelSmoothing: opts.levelSmoothing ?? 0.1,
      driftZLow: opts.driftZLow ?? 3,
      driftZHigh: opts.driftZHigh ?? 6,
      relativeStdFloor: opts.relativeStdFloor ?? 0.01,
      recommendThreshold: opts.recommendThreshold ?? 0.5,
      releaseThreshold: opts.releaseThreshold ?? 0.3,
      sustainMs: opts.sustainMs ?? 30 * bucketMs,
      recentBuckets: Math.min(HOUR_RING, Math.max(1, opts.recentBuckets ?? 15)),
      maxPoints: opts.maxPoints ?? 20_000,
    };
  }

  /** Feed of ingest's `onStored`: every newly stored batch, in order. */
  ingestBatches(batches: readonly StoredBatchView[]): void {
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const samples = batch.samples;
      let assetPoints: Map<string, PointState> | undefined;
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i]!;
        // Analog points only: booleans and failed reads carry no level to average.
        if (typeof s.value !== 'number' || s.quality !== Quality.good || !Number.isFinite(s.value)) continue;
        assetPoints ??= this.assetPoints(batch.site, batch.asset);
        let state = assetPoints.get(s.point);
        if (!state) {
          if (this.stats_.points >= this.o.maxPoints) {
            this.stats_.droppedPointSamples++;
            continue;
          }
          state = new PointState(batch.site, batch.asset, s.point, this.o.baselineBuckets);
          assetPoints.set(s.point, state);
          this.stats_.points++;
        }
        this.addSample(state, s.ts, s.value);
      }
    }
  }

  /** Length of a bucket, ms. */
  get bucketMs(): number {
    return this.o.bucketMs;
  }

  /** Closes every open bucket that ended at least `graceMs` before `now` (call it every bucket). */
  flush(now: number, graceMs = Math.min(5_000, this.o.bucketMs)): void {
    const bucketMs = this.o.bucketMs;
    for (const assets of this.points.values()) {
      for (const pts of assets.values()) {
        for (const state of pts.values()) {
          if (state.count > 0 && (state.bucket + 1) * bucketMs + graceMs <= now) this.closeBucket(state);
        }
      }
    }
  }

  /** Every tracked point, for health and peers. */
  snapshot(site?: string): PointSnapshot[] {
    const out: PointSnapshot[] = [];
    for (const [s, assets] of this.points) {
      if (site !== undefined && s !== site) continue;
      for (const pts of assets.values()) {
        for (const st of pts.values()) {
          const scoring = st.detector !== null;
          out.push({
            site: st.site, asset: st.asset, point: st.point, score: st.score, scoring,
            lastMinuteTs: st.lastBucketTs < 0 ? null : st.lastBucketTs,
            baselineMean: scoring ? st.baselineMean : null, baselineStd: scoring ? st.baselineStd : null,
          });
        }
      }
    }
    return out;
  }

  /**
   * The points of one asset with their last 60 smoothed scores (oldest first) and baselines:
   * what a chart overlays on the values. Points still learning their baseline have no scores yet.
   */
  scoreHistory(site: string, asset: string): PointScoreHistory[] {
    const pts = this.points.get(site)?.get(asset);
    if (!pts) return [];
    const out: PointScoreHistory[] = [];
    for (const st of pts.values()) {
      const ts: number[] = [];
      const scores: number[] = [];
      for (let i = st.scoreSize; i > 0; i--) {
        const idx = (st.scoreNext - i + HOUR_RING) % HOUR_RING;
        ts.push(st.scoreTs[idx]!);
        scores.push(st.scoreValue[idx]!);
      }
      const scoring = st.detector !== null;
      out.push({
        point: st.point, score: st.score, scoring, bucketMs: this.o.bucketMs,
        baselineMean: scoring ? st.baselineMean : null, baselineStd: scoring ? st.baselineStd : null, ts, scores,
      });
    }
    return out;
  }

  /** Mean of the bucket means in `windowMs` before the point's last bucket (at most 60 of them); undefined without any. */
  recentMean(site: string, asset: string, point: string, windowMs = HOUR_MS): number | undefined {
    const st = this.points.get(site)?.get(asset)?.get(point);
    if (!st || st.ringSize === 0) return undefined;
    return ringMean(st, st.lastBucketTs - windowMs, HOUR_RING);
  }

  stats(): LiveAnalyticsStats {
    return { ...this.stats_ };
  }

  private assetPoints(site: string, asset: string): Map<string, PointState> {
    let assets = this.points.get(site);
    if (!assets) this.points.set(site, assets = new Map());
    let pts = assets.get(asset);
    if (!pts) assets.set(asset, pts = new Map());
    return pts;
  }

  private addSample(state: PointState, ts: number, value: number): void {
    const bucketMs = this.o.bucketMs;
    const bucket = Math.floor(ts / bucketMs);
    if (bucket < state.bucket || (state.count === 0 && bucket * bucketMs < state.lastBucketTs)) {
      this.stats_.lateSamples++;
      return;
    }
    if (bucket > state.bucket && state.count > 0) this.closeBucket(state);
    state.bucket = bucket;
    state.sum += value;
    state.count++;
  }

  private closeBucket(st: PointState): void {
    const mean = st.sum / st.count;
    const ts = (st.bucket + 1) * this.o.bucketMs;
    st.sum = 0;
    st.count = 0;
    st.lastBucketTs = ts;
    st.ringValue[st.ringNext] = mean;
    st.ringTs[st.ringNext] = ts;
    st.ringNext = (st.ringNext + 1) % HOUR_RING;
    if (st.ringSize < HOUR_RING) st.ringSize++;
    if (st.detector) {
      this.scoreBucket(st, ts, mean);
      return;
    }
    st.buffer[st.buffered] = mean;
    st.bufferTs[st.buffered] = ts;
    st.buffered++;
    if (st.buffered === st.buffer.length) this.startDetector(st);
  }

  private startDetector(st: PointState): void {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = 0; i < st.buffered; i++) {
      const v = st.buffer[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    const mean = sum / st.buffered;
    let sq = 0;
    for (let i = 0; i < st.buffered; i++) sq += (st.buffer[i]! - mean) ** 2;
    const range = max - min;
    const margin = range > 0 ? range * this.o.rangeMargin : Math.max(Math.abs(mean) * 0.1, 1);
    st.baselineMean = mean;
    st.baselineStd = Math.max(Math.sqrt(sq / (st.buffered - 1)), Math.abs(mean) * this.o.relativeStdFloor, 1e-9);
    st.level = mean;
    st.detector = this.detector.create({
      inputMin: min - margin, inputMax: max + margin, probationaryPeriod: this.o.probationaryBuckets,
    });
    for (let i = 0; i < st.buffered; i++) this.scoreBucket(st, st.bufferTs[i]!, st.buffer[i]!);
  }

  private scoreBucket(st: PointState, ts: number, mean: number): void {
    const o = this.o;
    const detectorScore = st.detector!.update({ ts, value: mean });
    st.level += o.levelSmoothing * (mean - st.level);
    const z = Math.abs(st.level - st.baselineMean) / st.baselineStd;
    const drift = Math.min(1, Math.max(0, (z - o.driftZLow) / (o.driftZHigh - o.driftZLow)));
    const bucketScore = Math.max(detectorScore, drift);
    st.score += o.scoreSmoothing * (bucketScore - st.score);
    st.scoreValue[st.scoreNext] = st.score;
    st.scoreTs[st.scoreNext] = ts;
    st.scoreNext = (st.scoreNext + 1) % HOUR_RING;
    if (st.scoreSize < HOUR_RING) st.scoreSize++;
    this.stats_.minutesScored++;
    this.onScore(st.site, st.asset, st.point, ts, st.score);
    this.trackEpisode(st, ts);
  }

  private trackEpisode(st: PointState, ts: number): void {
    const o = this.o;
    if (st.score >= o.recommendThreshold) {
      if (st.aboveSince < 0) st.aboveSince = ts - o.bucketMs;
      if (!st.recommended && ts - st.aboveSince >= o.sustainMs) {
        st.recommended = true;
        const recentMean = ringMean(st, ts - o.recentBuckets * o.bucketMs, o.recentBuckets);
        this.onSustained({
          site: st.site, asset: st.asset, point: st.point, since: st.aboveSince, at: ts,
          recentMean, baselineMean: st.baselineMean, baselineStd: st.baselineStd,
          zScore: (recentMean - st.baselineMean) / st.baselineStd, score: st.score,
        });
      }
    } else if (st.score < o.releaseThreshold) {
      st.aboveSince = -1;
      st.recommended = false;
    }
  }
}

/** Mean of the ring's newest (at most `maxCount`) bucket means that end after `afterTs`. */
function ringMean(st: PointState, afterTs: number, maxCount: number): number {
  let sum = 0;
  let n = 0;
  for (let k = 1; k <= st.ringSize && n < maxCount; k++) {
    const idx = (st.ringNext - k + HOUR_RING) % HOUR_RING;
    if (st.ringTs[idx]! <= afterTs) break;
    sum += st.ringValue[idx]!;
    n++;
  }
  return n > 0 ? sum / n : st.ringValue[(st.ringNext - 1 + HOUR_RING) % HOUR_RING]!;
}
