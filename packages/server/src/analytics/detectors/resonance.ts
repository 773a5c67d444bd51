import type { DetectorFactory, DetectorInput, DetectorOptions, StreamingDetector } from './detector.ts';
import { Blocks, LevelHistogram } from './downsampling.ts';
import { RunningZ } from './running-z.ts';

/**
 * `resonance`: a cheap, bounded detector in the adaptive-resonance family (the family of ARTime,
 * NAB's record holder), written afresh for Shellguard (issue 14).
 *
 * 1. Downsample: blocks of `step` samples become one (step chosen so that the probationary period
 *    holds `windowsPerProbation` feature windows) — the block's extreme when it stands out from the
 *    block's mean by `spike` of the range (a one-sample spike survives), else the mean.
 * 2. Quantise to `levels` levels of the point's range; a level within `snap` of the signal's running
 *    median is the median (ordinary wobble is not a new pattern).
 * 3. Features of the last `window` levels: where the signal is (the levels) and its shape (the same
 *    window rescaled to its own min..max, weighted `shapeWeight`).
 * 4. A fuzzy ART memory of at most `maxCategories` categories (hyper-boxes, complement coded). The
 *    match of a vector to a box is (how much of it lies in the box)^featurePower × (how much of its
 *    newest level does)^nowPower. A vector matching a box at least the vigilance (the running mean
 *    of matches, from `vigilance`, at most `maxVigilance`) grows that box; one that does not founds a
 *    category — a pattern not seen before. When full, the least recently matched box is recycled.
 * 5. A candidate anomaly founds a category with a match below every match of the last `history`
 *    downsampled samples. After a candidate, others are masked for `quietAfter` samples unless much
 *    worse than the last anomaly. Every sample that is not an anomaly scores 0.
 * 6. The score of an anomaly is calibrated against the point's own history, so that one threshold
 *    means the same on every signal: z, how many standard deviations its novelty (1 − match) lies
 *    above the running mean of the novelty of every earlier downsampled sample (equal-weight, then
 *    fading over `memory` samples), mapped to z / (z + `zHalf`) in [0, 1) (0.5 at z = zHalf). The
 *    uncalibrated score, how far below the vigilance the match is relative to 1 − match, has a
 *    scale that depends on the signal (a threshold chosen on some signals did not transfer to
 *    others: bench/nab/cross-validate); `zHalf` 0 restores it.
 *
 * Cost per sample: at most O(maxCategories × window) every `step` samples; a box whose newest-level
 * term alone cannot beat the best match so far is skipped without its window (the same result,
 * ~8 times faster on noise without downsampling: bench/detect). Memory per point: ~20 KB with
 * the defaults (the boxes, a level histogram, short histories), whatever the signal.
 */
export interface ResonanceConfig {
  /** downsampled levels in one feature window */
  window: number;
  /** feature windows that fit in the probationary period: step = probation / (window × this) */
  windowsPerProbation: number;
  /** quantisation levels of the point's range */
  levels: number;
  /** block extreme kept instead of the block mean when this far from it (fraction of the range) */
  spike: number;
  /** levels this close to the running median become the median (fraction of the range; 0: off) */
  snap: number;
  /** weight of the shape features against the level features */
  shapeWeight: number;
  featurePower: number;
  nowPower: number;
  /** the vigilance before the probationary period has set it */
  vigilance: number;
  maxVigilance: number;
  /** bounded memory: categories kept per point */
  maxCategories: number;
  /** downsampled samples of match history a candidate must be worse than */
  history: number;
  /** downsampled samples after a candidate during which others are masked */
  quietAfter: number;
  /**
   * downsampled samples the running median and the vigilance remember (older ones fade): on live
   * telemetry a point's normal level moves over months; a NAB file is shorter than this.
   */
  memory: number;
  /**
   * calibration: the z-score of an anomaly's novelty against the point's novelty history that
   * scores 0.5 (score z / (z + zHalf)); 0: the uncalibrated score (vigilance − match) / (1 − match)
   */
  zHalf: number;
}

export const DEFAULT_RESONANCE: ResonanceConfig = {
  window: 8,
  windowsPerProbation: 13,
  levels: 80,
  spike: 0.1,
  snap: 0.04,
  shapeWeight: 0.5,
  featurePower: 3,
  nowPower: 2,
  vigilance: 0.8,
  maxVigilance: 0.97,
  maxCategories: 128,
  history: 50,
  quietAfter: 12,
  memory: 20_000,
  zHalf: 3,
};

export class Resonance implements StreamingDetector {
  private readonly step: number;
  private readonly min: number;
  private readonly span: number;
  private readonly dims: number;
  /** categories × (2 × dims): lower corner then (1 − upper corner), fuzzy ART's complement code */
  private readonly weights: Float32Array;
  private readonly lastUsed: Float64Array;
  private categories = 0;
  private readonly blocks: Blocks;
  private readonly levelsWindow: Float64Array;
  private windowFill = 0;
  private readonly features: Float32Array;
  private readonly novelty: Float64Array;
  private noveltyFill = 0;
  private noveltyHead = 0;
  private downsampled = 0;
  private readonly learnFor: number;
  private founded = false;
  private readonly levelHistogram: LevelHistogram;
  private sinceCandidate = Infinity;
  private lastAnomalyAt = -Infinity;
  private lastAnomalyMatch = 0;
  private vigilance: number;
  private matchMean = 0;
  private matchCount = 0;
  /** running mean and variance of the novelty (1 − match) of the downsampled samples: the calibration */
  private readonly calibration: RunningZ;

  constructor(options: DetectorOptions, private readonly config: ResonanceConfig = DEFAULT_RESONANCE) {
    const probation = Math.max(1, Math.floor(options.probationaryPeriod));
    this.step = Math.max(1, Math.round(probation / (config.window * config.windowsPerProbation)));
    this.learnFor = Math.ceil(probation / this.step);
    this.vigilance = config.vigilance;
    const range = options.inputMax - options.inputMin;
    this.min = Number.isFinite(options.inputMin) ? options.inputMin : 0;
    this.span = Number.isFinite(range) && range > 0 ? range : 1;
    this.dims = 2 * config.window;
    this.weights = new Float32Array(config.maxCategories * 2 * this.dims);
    this.lastUsed = new Float64Array(config.maxCategories);
    this.blocks = new Blocks(this.step);
    this.levelsWindow = new Float64Array(config.window);
    this.features = new Float32Array(this.dims);
    this.novelty = new Float64Array(Math.max(1, config.history));
    this.calibration = new RunningZ(config.memory);
    this.levelHistogram = new LevelHistogram(config.levels, config.memory);
  }

  get categoryCount(): number {
    return this.categories;
  }

  update(sample: DetectorInput): number {
    const x = sample.value;
    if (!Number.isFinite(x)) return 0;
    const b = this.blocks;
    if (!b.push(x)) return 0;
    // The block's extreme when it stands out from the block's mean, else the mean.
    return this.onDownsampled(Math.abs(b.extreme - b.mean) > this.config.spike * this.span ? b.extreme : b.mean);
  }

  private onDownsampled(value: number): number {
    const { window, levels } = this.config;
    const bin = this.levelHistogram.bin(value, this.min, this.span);
    this.levelHistogram.add(bin);
    let level = bin / levels;
    if (this.config.snap > 0) {
      // Levels near the signal's median are the median: ordinary wobble founds no categories.
      const median = this.levelHistogram.median() / levels;
      if (Math.abs(level - median) < this.config.snap) level = median;
    }
    this.levelsWindow.copyWithin(0, 1);
    this.levelsWindow[window - 1] = level;
    if (this.windowFill < window) this.windowFill++;
    const t = this.downsampled++;
    if (this.windowFill < window) return 0;

    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < window; i++) {
      const v = this.levelsWindow[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const shapeSpan = hi - lo;
    for (let i = 0; i < window; i++) {
      this.features[i] = this.levelsWindow[i]!;
      this.features[window + i] = shapeSpan > 0 ? (this.levelsWindow[i]! - lo) / shapeSpan : 0.5;
    }
    const match = this.resonate(t);
    // The vigilance follows the signal's own typical match (an equal-weight mean, then fading).
    this.matchCount = Math.min(this.matchCount + 1, this.config.memory);
    this.matchMean += (match - this.matchMean) / this.matchCount;
    if (t >= this.learnFor / 2) this.vigilance = Math.min(this.config.maxVigilance, this.matchMean);
    const novelty = 1 - match;
    const rank = this.rank(novelty);
    this.remember(novelty);
    // The calibration reference is the history before this sample (it does not dilute itself).
    const z = this.calibration.z(novelty);
    // A candidate: no category resonated and the match is below every match of the recent history
    // (rank 1). Candidates while masked (just after another candidate) are anomalies only when much
    // farther than the last anomaly.
    const candidate = this.founded && rank >= 1;
    const masked = this.sinceCandidate < this.config.quietAfter || t - this.lastAnomalyAt <= this.config.quietAfter;
    this.sinceCandidate = candidate ? 0 : this.sinceCandidate + 1;
    if (t < this.learnFor || !candidate) return 0;
    const farther = match < this.lastAnomalyMatch * (t - this.lastAnomalyAt <= this.config.quietAfter ? 0.9 : 0.7);
    if (masked && !farther) return 0;
    this.lastAnomalyAt = t;
    this.lastAnomalyMatch = match;
    if (this.config.zHalf > 0) return z > 0 ? z / (z + this.config.zHalf) : 0;
    const below = Math.max(0, (this.vigilance - match) / Math.max(1e-6, 1 - match));
    return Math.min(1, below);
  }

  /** Best match against the categories; learns (refines or founds). Returns the best match in [0, 1]. */
  private resonate(t: number): number {
    const d = this.dims;
    const w = this.weights;
    const f = this.features;
    const shape = this.config.shapeWeight;
    const half = this.config.window;
    let best = -1;
    let bestMatch = -1;
    const last = half - 1;
    const nowPower = this.config.nowPower;
    const vLast = f[last]!;
    for (let c = 0; c < this.categories; c++) {
      const base = c * 2 * d;
      // The newest level's term first: the match is at most now^nowPower (the feature term is at
      // most 1), so a box that cannot beat the best so far is skipped (the same best, sooner).
      const lowerLast = w[base + last]!;
      const upperLast = w[base + d + last]!;
      const nowSize = lowerLast + upperLast;
      const now = nowSize > 0 ? ((vLast < lowerLast ? vLast : lowerLast) + (1 - vLast < upperLast ? 1 - vLast : upperLast)) / nowSize : 1;
      const nowTerm = power(now, nowPower);
      if (nowTerm <= bestMatch) continue;
      // Fuzzy AND with the complement-coded box, against the box's own size: 1 inside it.
      let levelInter = 0;
      let levelSize = 0;
      for (let i = 0; i < half; i++) {
        const v = f[i]!;
        const lower = w[base + i]!;
        const upperC = w[base + d + i]!;
        levelInter += (v < lower ? v : lower) + (1 - v < upperC ? 1 - v : upperC);
        levelSize += lower + upperC;
      }
      let shapeInter = 0;
      let shapeSize = 0;
      for (let i = half; i < d; i++) {
        const v = f[i]!;
        const lower = w[base + i]!;
        const upperC = w[base + d + i]!;
        shapeInter += (v < lower ? v : lower) + (1 - v < upperC ? 1 - v : upperC);
        shapeSize += lower + upperC;
      }
      const inter = levelInter + shape * shapeInter;
      const size = levelSize + shape * shapeSize;
      const fs = size > 0 ? inter / size : 1;
      const match = power(fs, this.config.featurePower) * nowTerm;
      if (match > bestMatch) {
        bestMatch = match;
        best = c;
      }
    }
    if (best >= 0 && bestMatch >= this.vigilance) {
      // Resonance: the box grows to hold the vector (fast learning).
      const base = best * 2 * d;
      for (let i = 0; i < d; i++) {
        const v = f[i]!;
        if (v < w[base + i]!) w[base + i] = v;
        if (1 - v < w[base + d + i]!) w[base + d + i] = 1 - v;
      }
      this.lastUsed[best] = t;
      this.founded = false;
      return bestMatch;
    }
    // No resonance: found a category at the vector (a point box), recycling the stalest when full.
    let slot = this.categories;
    if (slot >= this.config.maxCategories) {
      slot = 0;
      for (let c = 1; c < this.categories; c++) if (this.lastUsed[c]! < this.lastUsed[slot]!) slot = c;
    } else {
      this.categories++;
    }
    const base = slot * 2 * d;
    for (let i = 0; i < d; i++) {
      w[base + i] = f[i]!;
      w[base + d + i] = 1 - f[i]!;
    }
    this.lastUsed[slot] = t;
    this.founded = best >= 0;
    return best >= 0 ? bestMatch : 1;
  }

  /** Fraction of the remembered novelties strictly below this one (1: the most novel in the history). */
  private rank(novelty: number): number {
    if (this.noveltyFill === 0) return 0;
    let below = 0;
    for (let i = 0; i < this.noveltyFill; i++) if (this.novelty[i]! < novelty) below++;
    return below / this.noveltyFill;
  }

  private remember(novelty: number): void {
    this.novelty[this.noveltyHead] = novelty;
    this.noveltyHead = (this.noveltyHead + 1) % this.novelty.length;
    if (this.noveltyFill < this.novelty.length) this.noveltyFill++;
  }
}

/** x^n, multiplied out for the small whole powers the defaults use (Math.pow is slower). */
function power(x: number, n: number): number {
  switch (n) {
    case 1: return x;
    case 2: return x * x;
    case 3: return x * x * x;
    default: return x ** n;
  }
}

export function resonanceFactory(config: ResonanceConfig = DEFAULT_RESONANCE, name = 'resonance'): DetectorFactory {
  return { name, create: (options: DetectorOptions) => new Resonance(options, config) };
}

export const resonance: DetectorFactory = resonanceFactory();
