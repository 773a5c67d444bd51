/**
 * Multivariate detection per asset in live analytics (issue 14): the asset's analog points, one
 * vector of bucket means per analytics bucket, scored together by a {@link MultivariateDetector}
 * (T² and Q on a normal state learned from a declared-normal period), so a fault that moves
 * several points a little is seen before any one of them looks odd.
 *
 * 1. A vector is emitted when every point of the asset has closed the bucket, or at the latest
 *    when a point closes a later one (a point that missed the bucket carries its last mean).
 * 2. The first `screenBuckets` vectors are buffered: points that did not change at all in them
 *    (setpoints, modes) are left out — an operator moving a setpoint is not wear — and the
 *    detector is created on the others (at least two) and the buffer replayed into it.
 * 3. The detector trains on the first `trainBuckets` vectors (the declared-normal period,
 *    screening included), then scores every vector. When it alarms (its ratio over the control
 *    limit for its `sustain` vectors) the asset gets one recommendation per episode, saying which
 *    points moved, by how much against their learned normal, and since when; the episode ends
 *    when the ratio falls below `releaseRatio`.
 *
 * A point that first reports while the model is still learning restarts it with that point; one
 * that appears after the model is trained is left out of it (the normal state was learned without it)
 * until normal is declared again (`relearn`).
 */
import { MultivariateDetector, type MultivariateConfig, type PointMove } from '../detectors/multivariate.ts';

export interface AssetModelOptions {
  bucketMs: number;
  screenBuckets: number;
  trainBuckets: number;
  releaseRatio: number;
  detector: Partial<MultivariateConfig>;
}

/** What an asset-level alarm says (live-analytics.ts turns it into RecommendationEvidence). */
export interface AssetAlarm {
  /** Start of the first bucket over the limit in this episode. */
  since: number;
  /** End of the bucket that raised it. */
  at: number;
  /** The detector's score, ratio / (1 + ratio): 0.5 is the control limit. */
  score: number;
  statistic: 'T2' | 'Q';
  /** Largest share first; every value finite. */
  moves: PointMove[];
}

export type AssetModelPhase = 'screening' | 'training' | 'scoring' | 'idle';

export class AssetModel {
  /** Point names in arrival order; `slot` of a point indexes the arrays below. */
  private readonly names: string[] = [];
  private latest: number[] = [];
  private has: boolean[] = [];
  private reportedBucket: number[] = [];
  /** The bucket whose vector is being assembled, -1 before the first. */
  private openBucket = -1;
  private reported = 0;
  private emitted = false;
  private screen: number[][] = [];
  private detector: MultivariateDetector | null = null;
  /** Slots of the points in the detector's vector, in its order. */
  private members: number[] = [];
  private vector = new Float64Array(0);
  private recommended = false;
  /** Points left out of the trained model (appeared after it was trained). */
  lateJoiners = 0;

  constructor(readonly site: string, readonly asset: string, private readonly o: AssetModelOptions) {}

  get phase(): AssetModelPhase {
    if (this.detector) return this.detector.trained ? 'scoring' : 'training';
    return this.names.length >= 2 ? 'screening' : 'idle';
  }

  /** Registers a point of the asset; returns its slot. */
  addPoint(name: string): number {
    const slot = this.names.length;
    this.names.push(name);
    this.latest.push(0);
    this.has.push(false);
    this.reportedBucket.push(-1);
    if (this.detector?.trained) {
      this.lateJoiners++;
    } else {
      // Still learning: start again with the new point in the vector.
      this.detector = null;
      this.members = [];
      this.screen = [];
    }
    return slot;
  }

  /**
   * Declares normal again from the next vector (after a repair, a replaced sensor, a new duty): the
   * learned model is dropped and the asset screens and trains again on what comes next, every point
   * it knows included. The open episode ends with it.
   */
  relearn(): void {
    this.detector = null;
    this.members = [];
    this.vector = new Float64Array(0);
    this.screen = [];
    this.recommended = false;
    this.lateJoiners = 0;
  }

  /** A point closed `bucket` with `mean`; returns an alarm when this completes a vector that raises one. */
  bucketClosed(slot: number, bucket: number, mean: number): AssetAlarm | undefined {
    let alarm: AssetAlarm | undefined;
    if (bucket > this.openBucket) {
      if (this.openBucket >= 0 && !this.emitted) alarm = this.emit();
      this.openBucket = bucket;
      this.reported = 0;
      this.emitted = false;
    }
    this.latest[slot] = mean;
    this.has[slot] = true;
    if (bucket === this.openBucket && this.reportedBucket[slot] !== bucket) {
      this.reportedBucket[slot] = bucket;
      this.reported++;
      if (this.reported === this.names.length && !this.emitted) alarm = this.emit() ?? alarm;
    }
    return alarm;
  }

  private emit(): AssetAlarm | undefined {
    this.emitted = true;
    const ts = (this.openBucket + 1) * this.o.bucketMs;
    if (this.names.length < 2 || this.has.some((h) => !h)) return undefined;
    if (!this.detector) {
      this.screen.push([...this.latest]);
      if (this.screen.length >= this.o.screenBuckets) this.startDetector(ts);
      return undefined;
    }
    for (let i = 0; i < this.members.length; i++) this.vector[i] = this.latest[this.members[i]!]!;
    return this.score(ts);
  }

  private startDetector(ts: number): void {
    const rows = this.screen;
    this.screen = [];
    const members: number[] = [];
    for (let slot = 0; slot < this.names.length; slot++) {
      const first = rows[0]![slot]!;
      if (rows.some((r) => r[slot] !== first)) members.push(slot);
    }
    // Fewer than two points that move: nothing to score together. Screen again (a unit that
    // was off while screened starts moving later).
    if (members.length < 2) return;
    this.members = members;
    this.vector = new Float64Array(members.length);
    this.detector = new MultivariateDetector(members.map((s) => this.names[s]!), {
      ...this.o.detector,
      trainSamples: Math.max(this.o.trainBuckets, members.length + 2),
      reservoir: Math.max(this.o.trainBuckets, members.length + 2),
    });
    // Replayed with the times they had; only their order matters while training.
    rows.forEach((r, i) => {
      for (let m = 0; m < members.length; m++) this.vector[m] = r[members[m]!]!;
      this.detector!.update(this.vector, ts - (rows.length - 1 - i) * this.o.bucketMs);
    });
  }

  private score(ts: number): AssetAlarm | undefined {
    const r = this.detector!.update(this.vector, ts);
    if (!r.trained) return undefined;
    if (this.recommended) {
      if (r.ratio < this.o.releaseRatio) this.recommended = false;
      return undefined;
    }
    if (!r.alarm) return undefined;
    const why = this.detector!.explain();
    if (!why) return undefined;
    this.recommended = true;
    const moves = why.moves.filter((m) => [m.z, m.value, m.normalMean, m.normalStd, m.share].every(Number.isFinite));
    return { since: (why.since ?? ts) - this.o.bucketMs, at: ts, score: r.score, statistic: why.statistic, moves };
  }
}
