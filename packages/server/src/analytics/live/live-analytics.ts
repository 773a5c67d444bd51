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
 * 2. the first `baselineBuckets` means (an hour) are buffered: they set the detector's
 *    inputMin/inputMax (with a margin);
 * 3. then the detector (default `ensemble`: CAD + Gaussian surprise beside adaptive resonance, the
 *    univariate method that scored best held out on NAB, docs/benchmarks.md) is created and the
 *    buffer replayed; every bucket mean from then on gets a score. Its context memory is capped so
 *    that `maxPoints` detectors fit `detectorMemoryBytes` (an authenticated guardian sending noise
 *    fills every detector it reaches to its cap; the total stays within the budget).
 *
 * The score of a bucket is max(detector score, drift score). The detector catches changes of
 * pattern but learns a slow ramp as the new normal; the drift score catches the ramp: it maps the
 * z-score of the recent level (an EWMA of the bucket means) against the point's baseline linearly from 0 at `driftZLow` to 1 at `driftZHigh`. The score sent to
 * `onScore` and kept per point is an EWMA of that (`scoreSmoothing`), so one odd bucket does not count.
 *
 * The baseline (mean, standard deviation of the bucket means) is learned from the first
 * `driftBaselineBuckets` bucket means (default a day: a point that follows the daily load or the weather must
 * have seen its daily range) and the drift score counts only from then on; an hour's baseline made
 * a healthy AHU's filter pressure and fan current look drifted every afternoon (24 false
 * recommendations in a week, docs/benchmarks.md). After that the baseline follows slow normal
 * change (filters loading, seasons) with a memory of `driftAdaptBuckets`, learning only from
 * buckets while the point is healthy (drift z below `driftZLow`, smoothed score below the release
 * threshold), so a developing fault is not learned as normal.
 *
 * A point whose smoothed score stays at or above `recommendThreshold` for `sustainMs` produces one
 * maintenance recommendation per episode; the episode ends when the score falls below
 * `releaseThreshold`.
 *
 * Per asset (issue 14), the same bucket means as one vector of its analog points, scored together
 * by a multivariate detector trained on the first `multivariateTrainBuckets` of them, the period
 * declared normal (asset-model.ts); when it alarms, `onAssetSustained` gets one asset-level
 * recommendation per episode, with the points that moved.
 *
 * A scoring budget (scoring-budget.ts: `scoreShare` of one core, measured on `clock`) bounds the
 * per-point detector work. While it lasts a closed bucket is scored at once; when it is spent the
 * point waits in a first-in-first-out queue, served as the budget refills (every `ingestBatches`,
 * `flush` and `drain`). A waiting point whose next bucket closes keeps its place and has only its
 * newest bucket scored: the older one is skipped and counted. So under overload every point is
 * scored in turn, each less often — never the same points dropped for good — and the stats say
 * so (`degraded`, `degradedReason`, `bucketsSkipped`, `pointsWaiting`); `onDegraded` is told once
 * per degraded episode, which ends when nothing has waited or been skipped for two buckets.
 * Bucket means, recent means and the asset vectors are kept whatever the budget: they are cheap.
 *
 * Bounded: at most `maxPoints` points are tracked; further points are counted and ignored.
 */
import { Quality, type Sample } from '@shellguard/protocol';
import type { DetectorFactory, StreamingDetector } from '../detectors/detector.ts';
import type { MultivariateConfig, PointMove } from '../detectors/multivariate.ts';
import { ensembleWithin } from '../detectors/detector-memory.ts';
import { AssetModel, type AssetModelPhase } from './asset-model.ts';
import { ScoringBudget } from './scoring-budget.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** The default bucket: a minute. */
export const DEFAULT_BUCKET_MS = MINUTE_MS;
/** What the per-point detectors may hold between them at their caps by default: 8 GiB. */
export const DEFAULT_DETECTOR_MEMORY_BYTES = 8 * 1024 ** 3;
/** Points live analytics scores at most by default. */
export const DEFAULT_MAX_POINTS = 20_000;

/** The part of a stored batch live analytics reads (ingest's `IncomingBatch` fits). */
export interface StoredBatchView {
  site: string;
  asset: string;
  samples: readonly Sample[];
}

/**
 * How a recommendation was found: `point`, one point's detector and drift score; `asset`, the
 * asset's points scored together (detectors/multivariate.ts: T² and Q on a learned normal state).
 */
export type RecommendationMethod = 'point' | 'asset';

/** What a recommendation says about its point when it is raised (see maintenance-book.ts). */
export interface RecommendationEvidence {
  site: string;
  asset: string;
  /** The point that deviated; for an asset-level recommendation, the one that moved most (its fields below are that point's). */
  point: string;
  /** Default `point`. */
  method?: RecommendationMethod;
  /**
   * Asset-level only: every point of the asset's vector, largest share of the exceeding statistic
   * first — its smoothed value against its learned normal (z, mean, standard deviation) — and
   * `since` is when the asset's statistic first went over its limit. Absent for point-level ones,
   * whose own fields (recentMean, baselineMean ± baselineStd, zScore, since) say the same of one point.
   */
  moves?: PointMove[];
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

/** Whether live analytics keeps up with its scoring budget (in `stats()`). */
export interface ScoringHealth {
  /** Scoring fewer points than it is given: bucket means are being skipped. */
  degraded: boolean;
  /** Why, in words, while degraded; null otherwise. */
  degradedReason: string | null;
  /** Clock time the current degraded episode began, or null. */
  degradedSince: number | null;
  /** Degraded episodes so far. */
  degradedEpisodes: number;
  /** Points whose closed bucket waits for the budget. */
  pointsWaiting: number;
  /** Bucket means never scored: the point's next bucket closed while it waited. */
  bucketsSkipped: number;
  /** Detector work measured so far, ms of `clock`. */
  scoreWorkMs: number;
  /** The budget: share of one core, and the most work saved up (ms). */
  scoreShare: number;
  scoreBurstMs: number;
}

export interface LiveAnalyticsOptions {
  /** Receives every smoothed score (the server wires it to `alarms.evaluateScore`). */
  onScore?: (site: string, asset: string, point: string, ts: number, score: number) => void;
  /** Called once per sustained episode (the server wires it to `maintenance.recommend`). */
  onSustained?: (evidence: RecommendationEvidence) => void;
  /** Called once per asset-level episode (method `asset`, with `moves`). */
  onAssetSustained?: (evidence: RecommendationEvidence) => void;
  /** Called once when a degraded episode begins (the server logs a warning), and when it ends. */
  onDegraded?: (health: ScoringHealth) => void;
  onRecovered?: (health: ScoringHealth) => void;
  /** Monotonic ms the scoring budget is measured on (default `performance.now()` from the epoch). */
  clock?: () => number;
  detector?: DetectorFactory;
  /** Length of a bucket, ms (default 60 000: minute means; at least 100). */
  bucketMs?: number;
  /** Bucket means buffered before the detector starts; they set its input range (default 60). */
  baselineBuckets?: number;
  /** Bucket means the drift baseline learns from before the drift score counts (default 1 440: a day of minute means; at least `baselineBuckets`). */
  driftBaselineBuckets?: number;
  /** Memory, in buckets, with which the learned baseline follows slow normal change while the point is healthy (default 10 080: a week; 0 keeps it fixed). */
  driftAdaptBuckets?: number;
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
  /**
   * Memory the per-point detectors may hold between them at their caps, bytes (default 8 GiB).
   * With the default detector each point gets the most contexts whose memory fits
   * `detectorMemoryBytes / maxPoints` (detectors/detector-memory.ts): the shipped 10,000 up to
   * ~13,800 points, 5,000 at the default 20,000 points. A `detector` given explicitly is used as is.
   */
  detectorMemoryBytes?: number;
  /**
   * Share of one core the per-point detectors may use (default 0.5: ingest, alarm evaluation and
   * the API share the event loop). Over it, points are scored in turn and the stats say so.
   * bench/live measures it: with more work than the share, the event loop's delay stays bounded and
   * the feed on time, where a share of 1 lets the detectors fall behind (docs/benchmarks.md).
   */
  scoreShare?: number;
  /** Most detector work saved up while idle, ms; also the longest it runs in one go (default 100). */
  scoreBurstMs?: number;
  /** Score each asset's points together (default true). */
  multivariate?: boolean;
  /** Buckets of the declared-normal period the asset models learn from (default 10 080: a week of minute means; one day is too short, bench/multivariate). */
  multivariateTrainBuckets?: number;
  /** First buckets in which a point that does not change at all (a setpoint) is left out of the vector (default 60, at most the training). */
  multivariateScreenBuckets?: number;
  /** An asset-level episode ends when the detector's ratio falls below this (default 0.5; 1 is the control limit). */
  multivariateReleaseRatio?: number;
  /** Further tuning of the asset models (smoothing, limitQuantile, sustain, adaptSamples: detectors/multivariate.ts). */
  multivariateDetector?: Partial<Omit<MultivariateConfig, 'trainSamples' | 'reservoir'>>;
}

/** One tracked point as the health and peers views read it. */
export interface PointSnapshot {
  site: string;
  asset: string;
  point: string;
  /** Smoothed anomaly score in [0, 1]; 0 while the baseline is being learned. */
  score: number;
  /** true once the detector runs (after `baselineBuckets`); the drift score counts once `baselineLearned`. */
  scoring: boolean;
  /** true once the drift baseline has learned its `driftBaselineBuckets`. */
  baselineLearned: boolean;
  /** End of the last closed bucket (a minute by default), or null if none closed yet. */
  lastMinuteTs: number | null;
  baselineMean: number | null;
  baselineStd: number | null;
}

export interface PointScoreHistory {
  point: string;
  score: number;
  scoring: boolean;
  baselineLearned: boolean;
  bucketMs: number;
  baselineMean: number | null;
  baselineStd: number | null;
  /** End of each scored bucket, oldest first (at most 60). */
  ts: number[];
  scores: number[];
}

export interface LiveAnalyticsStats extends ScoringHealth {
  points: number;
  /** Asset models by phase (`idle`: fewer than two analog points). */
  assetModels: Record<AssetModelPhase, number>;
  /** Samples of points refused because `maxPoints` was reached. */
  droppedPointSamples: number;
  /** Samples older than the point's open bucket. */
  lateSamples: number;
  /** Bucket means scored (minutes by default; the name predates `bucketMs`). */
  minutesScored: number;
  /** The per-point detectors' memory: the budget, and what each point was given (null: a detector given explicitly). */
  detectorMemory: DetectorMemory;
}

export interface DetectorMemory {
  budgetBytes: number;
  /** Context cap of each point's contextual member. */
  contextsPerPoint: number | null;
  /** Estimated bytes of one point's detector at its cap. */
  bytesPerPoint: number | null;
}

const HOUR_RING = 60;

class AssetEntry {
  readonly points = new Map<string, PointState>();
  constructor(readonly model: AssetModel | null) {}
}

class PointState {
  /** Index of the open bucket (ts / bucketMs), -1 before the first sample. */
  bucket = -1;
  sum = 0;
  count = 0;
  readonly buffer: Float64Array;
  readonly bufferTs: Float64Array;
  buffered = 0;
  detector: StreamingDetector | null = null;
  /** The drift baseline: bucket means learned (Welford) until `driftBaselineBuckets`, then followed. */
  baselineN = 0;
  baselineMean = 0;
  /** Sum of squared deviations while learning; the variance once learned. */
  baselineM2 = 0;
  baselineStd = 0;
  baselineLearned = false;
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
  /** Waiting for the budget, with the newest closed bucket (end time, mean) to score. */
  queued = false;
  pendingTs = 0;
  pendingMean = 0;
  constructor(readonly site: string, readonly asset: string, readonly point: string, baselineBuckets: number,
    readonly owner: AssetEntry, readonly slot: number) {
    this.buffer = new Float64Array(baselineBuckets);
    this.bufferTs = new Float64Array(baselineBuckets);
  }
}

export class LiveAnalytics {
  private readonly onScore: NonNullable<LiveAnalyticsOptions['onScore']>;
  private readonly onSustained: NonNullable<LiveAnalyticsOptions['onSustained']>;
  private readonly onAssetSustained: NonNullable<LiveAnalyticsOptions['onAssetSustained']>;
  private readonly onDegraded: NonNullable<LiveAnalyticsOptions['onDegraded']>;
  private readonly onRecovered: NonNullable<LiveAnalyticsOptions['onRecovered']>;
  private readonly detector: DetectorFactory;
  private readonly detectorMemory: DetectorMemory;
  private readonly o: Required<Omit<LiveAnalyticsOptions,
    'onScore' | 'onSustained' | 'onAssetSustained' | 'onDegraded' | 'onRecovered' | 'clock' | 'detector' | 'multivariateDetector'>>;
  private readonly multivariateDetector: Partial<MultivariateConfig>;
  /** site → asset → point: nested maps, so the hot path builds no key strings. */
  private readonly points = new Map<string, Map<string, AssetEntry>>();
  private readonly stats_ = { points: 0, droppedPointSamples: 0, lateSamples: 0, minutesScored: 0, bucketsSkipped: 0, degradedEpisodes: 0 };
  private readonly budget: ScoringBudget;
  /** Points waiting for the budget, oldest first (`head` is the next to serve). */
  private queue: PointState[] = [];
  private head = 0;
  private degradedSince: number | null = null;
  private degradedReason: string | null = null;
  /** Clock time of the last skipped bucket, for the end of an episode. */
  private lastSkip = -Infinity;

  constructor(opts: LiveAnalyticsOptions = {}) {
    this.onScore = opts.onScore ?? (() => {});
    this.onSustained = opts.onSustained ?? (() => {});
    this.onAssetSustained = opts.onAssetSustained ?? (() => {});
    this.onDegraded = opts.onDegraded ?? (() => {});
    this.onRecovered = opts.onRecovered ?? (() => {});
    const maxPoints = opts.maxPoints ?? DEFAULT_MAX_POINTS;
    if (!(Number.isInteger(maxPoints) && maxPoints > 0)) throw new RangeError(`maxPoints must be a positive whole number (got ${maxPoints})`);
    const budgetBytes = opts.detectorMemoryBytes ?? DEFAULT_DETECTOR_MEMORY_BYTES;
    if (!(budgetBytes > 0)) throw new RangeError(`detectorMemoryBytes must be positive (got ${budgetBytes})`);
    if (opts.detector) {
      this.detector = opts.detector;
      this.detectorMemory = { budgetBytes, contextsPerPoint: null, bytesPerPoint: null };
    } else {
      const within = ensembleWithin(budgetBytes / maxPoints);
      this.detector = within.factory;
      this.detectorMemory = { budgetBytes, contextsPerPoint: within.maxContexts, bytesPerPoint: Math.round(within.bytesPerPoint) };
    }
    this.multivariateDetector = opts.multivariateDetector ?? {};
    const bucketMs = opts.bucketMs ?? DEFAULT_BUCKET_MS;
    if (!Number.isInteger(bucketMs) || bucketMs < 100) throw new RangeError(`bucketMs must be a whole number of ms, 100 or more (got ${bucketMs})`);
    this.o = {
      bucketMs,
      baselineBuckets: Math.max(2, Math.trunc(opts.baselineBuckets ?? 60)),
      driftBaselineBuckets: 0,
      driftAdaptBuckets: Math.max(0, Math.trunc(opts.driftAdaptBuckets ?? 10_080)),
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
      maxPoints,
      detectorMemoryBytes: budgetBytes,
      scoreShare: opts.scoreShare ?? 0.5,
      scoreBurstMs: opts.scoreBurstMs ?? 100,
      multivariate: opts.multivariate ?? true,
      multivariateTrainBuckets: Math.max(4, Math.trunc(opts.multivariateTrainBuckets ?? 10_080)),
      multivariateScreenBuckets: 0,
      multivariateReleaseRatio: opts.multivariateReleaseRatio ?? 0.5,
    };
    this.o.driftBaselineBuckets = Math.max(this.o.baselineBuckets, Math.trunc(opts.driftBaselineBuckets ?? 1_440));
    this.o.multivariateScreenBuckets = Math.max(2, Math.min(this.o.multivariateTrainBuckets, Math.trunc(opts.multivariateScreenBuckets ?? 60)));
    this.budget = new ScoringBudget({
      share: this.o.scoreShare, burstMs: this.o.scoreBurstMs, clock: opts.clock ?? (() => performance.timeOrigin + performance.now()),
    });
  }

  /** Feed of ingest's `onStored`: every newly stored batch, in order. */
  ingestBatches(batches: readonly StoredBatchView[]): void {
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const samples = batch.samples;
      let entry: AssetEntry | undefined;
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i]!;
        // Analog points only: booleans and failed reads carry no level to average.
        if (typeof s.value !== 'number' || s.quality !== Quality.good || !Number.isFinite(s.value)) continue;
        entry ??= this.assetEntry(batch.site, batch.asset);
        let state = entry.points.get(s.point);
        if (!state) {
          if (this.stats_.points >= this.o.maxPoints) {
            this.stats_.droppedPointSamples++;
            continue;
          }
          const slot = entry.model ? entry.model.addPoint(s.point) : -1;
          state = new PointState(batch.site, batch.asset, s.point, this.o.baselineBuckets, entry, slot);
          entry.points.set(s.point, state);
          this.stats_.points++;
        }
        this.addSample(state, s.ts, s.value);
      }
    }
    this.drain();
  }

  /**
   * Scores waiting points while the budget lasts, oldest first; ends a degraded episode once
   * nobody waits and no bucket was skipped for two buckets. `ingestBatches` and `flush` call it; call it between them
   * too when the feed is quiet.
   */
  drain(): void {
    while (this.head < this.queue.length && this.budget.available()) {
      const st = this.queue[this.head++]!;
      st.queued = false;
      this.budget.spend(() => this.runScoring(st, st.pendingTs, st.pendingMean));
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
      if (this.degradedSince !== null && this.budget.now() - this.lastSkip >= 2 * this.o.bucketMs) {
        this.degradedSince = null;
        this.degradedReason = null;
        this.onRecovered(this.health());
      }
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      // Keep the array from growing without end under sustained overload.
      this.queue = this.queue.slice(this.head);
      this.head = 0;
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
      for (const entry of assets.values()) {
        for (const state of entry.points.values()) {
          if (state.count > 0 && (state.bucket + 1) * bucketMs + graceMs <= now) this.closeBucket(state);
        }
      }
    }
    this.drain();
  }

  /** Every tracked point, for health and peers. */
  snapshot(site?: string): PointSnapshot[] {
    const out: PointSnapshot[] = [];
    for (const [s, assets] of this.points) {
      if (site !== undefined && s !== site) continue;
      for (const entry of assets.values()) {
        for (const st of entry.points.values()) {
          const scoring = st.detector !== null;
          out.push({
            site: st.site, asset: st.asset, point: st.point, score: st.score, scoring, baselineLearned: st.baselineLearned,
            lastMinuteTs: st.lastBucketTs < 0 ? null : st.lastBucketTs,
            baselineMean: st.baselineLearned ? st.baselineMean : null, baselineStd: st.baselineLearned ? st.baselineStd : null,
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
    const entry = this.points.get(site)?.get(asset);
    if (!entry) return [];
    const out: PointScoreHistory[] = [];
    for (const st of entry.points.values()) {
      const ts: number[] = [];
      const scores: number[] = [];
      for (let i = st.scoreSize; i > 0; i--) {
        const idx = (st.scoreNext - i + HOUR_RING) % HOUR_RING;
        ts.push(st.scoreTs[idx]!);
        scores.push(st.scoreValue[idx]!);
      }
      const scoring = st.detector !== null;
      out.push({
        point: st.point, score: st.score, scoring, baselineLearned: st.baselineLearned, bucketMs: this.o.bucketMs,
        baselineMean: st.baselineLearned ? st.baselineMean : null, baselineStd: st.baselineLearned ? st.baselineStd : null, ts, scores,
      });
    }
    return out;
  }

  /** Mean of the bucket means in `windowMs` before the point's last bucket (at most 60 of them); undefined without any. */
  recentMean(site: string, asset: string, point: string, windowMs = HOUR_MS): number | undefined {
    const st = this.points.get(site)?.get(asset)?.points.get(point);
    if (!st || st.ringSize === 0) return undefined;
    return ringMean(st, st.lastBucketTs - windowMs, HOUR_RING);
  }

  stats(): LiveAnalyticsStats {
    const assetModels: Record<AssetModelPhase, number> = { idle: 0, screening: 0, training: 0, scoring: 0 };
    for (const assets of this.points.values()) for (const entry of assets.values()) if (entry.model) assetModels[entry.model.phase]++;
    return { ...this.stats_, assetModels, detectorMemory: { ...this.detectorMemory }, ...this.health() };
  }

  private health(): ScoringHealth {
    return {
      degraded: this.degradedSince !== null, degradedReason: this.degradedReason, degradedSince: this.degradedSince,
      degradedEpisodes: this.stats_.degradedEpisodes, pointsWaiting: this.queue.length - this.head, bucketsSkipped: this.stats_.bucketsSkipped,
      scoreWorkMs: this.budget.workMs, scoreShare: this.budget.share, scoreBurstMs: this.budget.burstMs,
    };
  }

  /**
   * Declares an asset's behaviour normal again from now (after a repair, a replaced sensor, a
   * changed duty): its asset model screens and trains again, and each of its points learns its
   * drift baseline and restarts its detector from its next buckets, as a new point would; its
   * score is reported as 0 at once (`onScore`). Open episodes end without a recommendation; the
   * next ones compare against the new normal. Returns
   * what was reset, or undefined when live analytics has seen no point of that asset.
   */
  relearn(site: string, asset: string): { points: number; assetModel: boolean } | undefined {
    const entry = this.points.get(site)?.get(asset);
    if (!entry) return undefined;
    entry.model?.relearn();
    for (const st of entry.points.values()) {
      // The score falls to 0 now, where the point stood: an anomaly alarm on it returns to normal
      // (through its own off-delay) instead of staying up until the restarted detector scores.
      if (st.score > 0 && st.lastBucketTs > 0) this.onScore(st.site, st.asset, st.point, st.lastBucketTs, 0);
      st.detector = null;
      st.buffered = 0;
      st.baselineN = 0;
      st.baselineMean = 0;
      st.baselineM2 = 0;
      st.baselineStd = 0;
      st.baselineLearned = false;
      st.score = 0;
      st.aboveSince = -1;
      st.recommended = false;
    }
    return { points: entry.points.size, assetModel: entry.model !== null };
  }

  private assetEntry(site: string, asset: string): AssetEntry {
    let assets = this.points.get(site);
    if (!assets) this.points.set(site, assets = new Map());
    let entry = assets.get(asset);
    if (!entry) {
      const model = this.o.multivariate ? new AssetModel(site, asset, {
        bucketMs: this.o.bucketMs, screenBuckets: this.o.multivariateScreenBuckets, trainBuckets: this.o.multivariateTrainBuckets,
        releaseRatio: this.o.multivariateReleaseRatio, detector: this.multivariateDetector,
      }) : null;
      assets.set(asset, entry = new AssetEntry(model));
    }
    return entry;
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
    // Learned from every bucket, whatever the scoring budget: it is cheap.
    if (!st.baselineLearned) this.learnBaseline(st, mean);
    const model = st.owner.model;
    if (model) {
      const alarm = model.bucketClosed(st.slot, st.bucket, mean);
      if (alarm) this.raiseAssetAlarm(st, alarm);
    }
    if (!st.detector) {
      // Still learning the baseline: buffered (no detector work) until the buffer is full; the
      // detector is then created and the buffer replayed, as detector work under the budget.
      if (st.buffered < st.buffer.length) {
        st.buffer[st.buffered] = mean;
        st.bufferTs[st.buffered] = ts;
        st.buffered++;
        if (st.buffered < st.buffer.length) return;
      } else {
        // Full and waiting for the budget: this bucket is not part of the baseline.
        this.skipped(st);
        return;
      }
    }
    this.requestScoring(st, ts, mean);
  }

  /** Scores now while the budget lasts and nobody waits; otherwise queues (or updates) the point. */
  private requestScoring(st: PointState, ts: number, mean: number): void {
    if (st.queued) {
      st.pendingTs = ts;
      st.pendingMean = mean;
      this.skipped(st);
      return;
    }
    if (this.head >= this.queue.length && this.budget.available()) {
      this.budget.spend(() => this.runScoring(st, ts, mean));
      return;
    }
    st.queued = true;
    st.pendingTs = ts;
    st.pendingMean = mean;
    this.queue.push(st);
  }

  private runScoring(st: PointState, ts: number, mean: number): void {
    if (st.detector) this.scoreBucket(st, ts, mean);
    // Unless the point was told to learn again while it waited (relearn): then it buffers anew.
    else if (st.buffered >= st.buffer.length) this.startDetector(st);
  }

  /** A bucket mean left unscored: the start of a degraded episode if none is running. */
  private skipped(_st: PointState): void {
    this.stats_.bucketsSkipped++;
    this.lastSkip = this.budget.now();
    if (this.degradedSince !== null) return;
    this.degradedSince = this.budget.now();
    this.stats_.degradedEpisodes++;
    const waiting = this.queue.length - this.head;
    this.degradedReason = `the detectors' budget (${Math.round(this.budget.share * 100)} % of a core) is spent: `
      + `${waiting} of ${this.stats_.points} points wait their turn and only their newest bucket is scored`;
    this.onDegraded(this.health());
  }

  private raiseAssetAlarm(st: PointState, alarm: { since: number; at: number; score: number; moves: PointMove[] }): void {
    const top = alarm.moves[0];
    if (!top) return;
    this.onAssetSustained({
      site: st.site, asset: st.asset, point: top.point, method: 'asset', moves: alarm.moves, since: alarm.since, at: alarm.at,
      recentMean: top.value, baselineMean: top.normalMean, baselineStd: top.normalStd, zScore: top.z, score: alarm.score,
    });
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
    const range = max - min;
    const margin = range > 0 ? range * this.o.rangeMargin : Math.max(Math.abs(mean) * 0.1, 1);
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
    let drift = 0;
    if (st.baselineLearned) {
      const z = Math.abs(st.level - st.baselineMean) / st.baselineStd;
      drift = Math.min(1, Math.max(0, (z - o.driftZLow) / (o.driftZHigh - o.driftZLow)));
      // Healthy: the baseline follows slow normal change; a deviating point keeps what it learned.
      if (o.driftAdaptBuckets > 0 && z < o.driftZLow && st.score < o.releaseThreshold) this.followBaseline(st, mean);
    }
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

  /** One bucket mean into the drift baseline being learned (Welford); learned at `driftBaselineBuckets`. */
  private learnBaseline(st: PointState, x: number): void {
    st.baselineN++;
    const d = x - st.baselineMean;
    st.baselineMean += d / st.baselineN;
    st.baselineM2 += d * (x - st.baselineMean);
    // Kept current while learning too: a detector-led recommendation in the first day quotes it.
    const variance = st.baselineN > 1 ? st.baselineM2 / (st.baselineN - 1) : 0;
    if (st.baselineN >= this.o.driftBaselineBuckets) {
      st.baselineM2 = variance;
      st.baselineLearned = true;
    }
    st.baselineStd = stdFloor(variance, st.baselineMean, this.o.relativeStdFloor);
  }

  /** Exponentially weighted mean and variance with a memory of `driftAdaptBuckets`. */
  private followBaseline(st: PointState, x: number): void {
    const w = 1 / this.o.driftAdaptBuckets;
    const d = x - st.baselineMean;
    st.baselineMean += w * d;
    st.baselineM2 = (1 - w) * (st.baselineM2 + w * d * d);
    st.baselineStd = stdFloor(st.baselineM2, st.baselineMean, this.o.relativeStdFloor);
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

/** The standard deviation of `variance`, floored at `relativeFloor` of |mean| (and above 0). */
function stdFloor(variance: number, mean: number, relativeFloor: number): number {
  return Math.max(Math.sqrt(variance), Math.abs(mean) * relativeFloor, 1e-9);
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
