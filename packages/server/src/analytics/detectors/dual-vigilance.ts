import type { DetectorFactory, DetectorInput, DetectorOptions, StreamingDetector } from './detector.ts';
import { Blocks, LevelHistogram } from './downsampling.ts';
import { RunningZ } from './running-z.ts';

/**
 * `dual-vigilance`: ARTime's method (M. Hampton, the record holder on NAB's scoreboard: a
 * distributed dual-vigilance fuzzy ART over downsampled windows), written afresh for Shellguard
 * from the published algorithm, with its memory bounded (issue 14). `resonance` is our earlier,
 * simpler member of the same family; this one keeps the parts of ARTime that it dropped:
 *
 * 1. Downsample blocks of `step` samples (step chosen so that the probationary period holds
 *    `windowsPerProbation` feature windows) to the block's extreme on the side away from a running
 *    mean of block means, or to the block mean when the extreme is within `spike` of it (relative).
 * 2. Quantise to `levels` levels of the point's range; a level within `snap` of the running median
 *    level is the median.
 * 3. Features of the last `window` levels: their Haar wavelet transform after rescaling the window
 *    to its own min..max (the shape), then the levels themselves (where the signal is).
 * 4. A fuzzy ART memory with two vigilances. A vector matching boxes at least the upper vigilance
 *    grows every one of them; else, matching the best box at least the lower vigilance, it is
 *    committed as a new box of the same cluster; else it founds a new cluster — a pattern not seen
 *    before, the anomaly candidate. The match to a box is (the box's share of the vector)^3 ×
 *    (the same for the newest level alone, the "energy")^2. At most `maxCategories` boxes: when full,
 *    the least recently matched is recycled (ARTime keeps every box; this is the bound).
 * 5. The vigilances are first set from the probationary period (its windows replayed, least typical
 *    first, into a trial memory), then follow the signal: the upper one is the running mean match
 *    (at most `maxVigilance`); the lower one rises toward the worst recent match and falls by the
 *    typical shortfall below the upper one, never below the mean match of past anomalies.
 * 6. Candidates just after another candidate or a vigilance update are masked unless much worse
 *    than the last anomaly. An anomaly's score mixes how far its match lies below each vigilance
 *    (relative to 1 − match) with how poorly its newest level fits; every other sample scores 0.
 *
 * Cost per sample: O(maxCategories × window) every `step` samples, plus one O(window × probation²)
 * pass when the probationary period ends; ~148,000 samples/s at worst (no downsampling, noise:
 * bench/detect). Memory per point: the boxes (maxCategories × 4 × window float64s) and short
 * histories, ~74 KB with the defaults.
 */
export interface DualVigilanceConfig {
  /** downsampled levels in one feature window (a power of two: the Haar transform) */
  window: number;
  /** feature windows that fit in the probationary period: step = probation / (window × this) */
  windowsPerProbation: number;
  /** quantisation levels of the point's range */
  levels: number;
  /** block extreme kept instead of the block mean when farther from it than this fraction of the mean */
  spike: number;
  /** levels this close to the running median become the median (fraction of the range) */
  snap: number;
  /** the vigilance the probationary replay starts from */
  initialVigilance: number;
  /** cap on the upper vigilance */
  maxVigilance: number;
  /** bounded memory: boxes kept per point */
  maxCategories: number;
  /**
   * downsampled samples the running means and the median remember (older ones fade): on live
   * telemetry a point's normal moves over months; a NAB file is shorter than this.
   */
  memory: number;
  /**
   * 0: ARTime's score (step 6). Else the score is calibrated against the point's own history as
   * `resonance`'s is: z, how many standard deviations the anomaly's novelty (1 − match) lies above
   * the running mean novelty of every earlier downsampled sample, mapped to z / (z + zHalf).
   */
  zHalf: number;
}

export const DEFAULT_DUAL_VIGILANCE: DualVigilanceConfig = {
  window: 8,
  windowsPerProbation: 13,
  levels: 80,
  spike: 0.1,
  snap: 0.075,
  initialVigilance: 0.8,
  maxVigilance: 0.97,
  maxCategories: 256,
  memory: 20_000,
  zHalf: 0,
};

/** The lower vigilance moves this share of the way up toward the worst recent match. */
const LOWER_RISE = 0.19;
/** Shortfalls below the upper vigilance smaller than this are ordinary; larger are capped at MAX_SHORTFALL. */
const MIN_SHORTFALL = 0.05;
const MAX_SHORTFALL = 0.37;
/** Weights of the score: how far below the upper and the lower vigilance, and the newest level's misfit. */
const UPPER_WEIGHT = 0.35;
const LOWER_WEIGHT = 0.65;
const ENERGY_WEIGHT = 1.5;
/**
 * The fuzzy ART memory: boxes in complement code (the lower corner, then 1 − the upper corner),
 * matched against a vector's complement code. `energyIndex` is the feature whose fit alone is the
 * energy term (the newest level).
 */
class DualVigilanceArt {
  private readonly weights: Float64Array;
  private readonly lastUsed: Float64Array;
  private readonly matches: Float64Array;
  count = 0;
  lower: number;
  upper: number;
  /** of the last `train`: the best match and its energy term */
  match = 0;
  energy = 0;
  constructor(private readonly dims: number, private readonly capacity: number, private readonly energyIndex: number, vigilance: number) {
    this.weights = new Float64Array(capacity * 2 * dims);
    this.lastUsed = new Float64Array(capacity);
    this.matches = new Float64Array(capacity);
    this.lower = vigilance;
    this.upper = vigilance;
  }

  /**
   * Presents a vector (features in [0, 1]); learns unless `learn` is false. Returns true when it
   * founded a new cluster (no box matched even the lower vigilance), which a vector never does
   * when not learning. The very first vector only opens the memory with a box that holds nothing.
   */
  train(f: Float64Array, t: number, learn: boolean): boolean {
    const d = this.dims;
    const w = this.weights;
    if (this.count === 0) {
      w.fill(1, 0, 2 * d);
      this.lastUsed[0] = t;
      this.count = 1;
      this.match = 0;
      this.energy = 0;
      return false;
    }
    const e = this.energyIndex;
    let best = -1;
    let bestMatch = -1;
    let bestEnergy = 0;
    const ve = f[e]!;
    for (let c = 0; c < this.count; c++) {
      const base = c * 2 * d;
      // The energy term first: the match is at most energy² (the feature term is at most 1), so a
      // box that can neither beat the best so far nor reach the upper vigilance is skipped.
      const loE = w[base + e]!;
      const hiCE = w[base + d + e]!;
      const energySize = loE + hiCE;
      const es = energySize > 0 ? ((ve < loE ? ve : loE) + (1 - ve < hiCE ? 1 - ve : hiCE)) / energySize : 0;
      const bound = es * es;
      if (bound <= bestMatch && bound < this.upper) {
        this.matches[c] = bound;
        continue;
      }
      let inter = 0;
      let size = 0;
      for (let i = 0; i < d; i++) {
        const v = f[i]!;
        const lo = w[base + i]!;
        const hiC = w[base + d + i]!;
        inter += (v < lo ? v : lo) + (1 - v < hiC ? 1 - v : hiC);
        size += lo + hiC;
      }
      const fs = inter / (size > 0 ? size : 0.001);
      const m = fs * fs * fs * bound;
      this.matches[c] = m;
      if (m > bestMatch) {
        bestMatch = m;
        best = c;
        bestEnergy = es;
      }
    }
    this.match = bestMatch;
    this.energy = bestEnergy;
    if (!learn) return false;
    this.lastUsed[best] = t;
    if (bestMatch >= this.upper) {
      // Resonance: every box matching at least the upper vigilance grows to hold the vector.
      for (let c = 0; c < this.count; c++) {
        if (this.matches[c]! < this.upper) continue;
        const base = c * 2 * d;
        for (let i = 0; i < d; i++) {
          const v = f[i]!;
          if (v < w[base + i]!) w[base + i] = v;
          if (1 - v < w[base + d + i]!) w[base + d + i] = 1 - v;
        }
        this.lastUsed[c] = t;
      }
      return false;
    }
    // Committed as a box of its own: of the best box's cluster above the lower vigilance, else of a new cluster.
    this.commit(f, t);
    return bestMatch < this.lower;
  }

  private commit(f: Float64Array, t: number): void {
    let slot = this.count;
    if (slot >= this.capacity) {
      slot = 0;
      for (let c = 1; c < this.count; c++) if (this.lastUsed[c]! < this.lastUsed[slot]!) slot = c;
    } else {
      this.count++;
    }
    const d = this.dims;
    const base = slot * 2 * d;
    for (let i = 0; i < d; i++) {
      this.weights[base + i] = f[i]!;
      this.weights[base + d + i] = 1 - f[i]!;
    }
    this.lastUsed[slot] = t;
  }
}

/**
 * In-place orthonormal Haar transform of a power-of-two-length vector: [approximation, coarsest …
 * finest details], each detail (x[2k+1] − x[2k]) / √2 — the sign of the Haar filter in Wavelets.jl,
 * which ARTime uses. The sign matters once the coefficients are rescaled: with the other one this
 * detector scored 74.76 rather than 77.51 on the shared NAB files (standard profile; one-off check).
 */
export function haar(x: Float64Array, scratch: Float64Array): void {
  for (let n = x.length; n > 1; n >>= 1) {
    const h = n >> 1;
    for (let k = 0; k < h; k++) {
      scratch[k] = (x[2 * k]! + x[2 * k + 1]!) * Math.SQRT1_2;
      scratch[h + k] = (x[2 * k + 1]! - x[2 * k]!) * Math.SQRT1_2;
    }
    for (let k = 0; k < n; k++) x[k] = scratch[k]!;
  }
}

/** Rescales to 0..1 over its own min..max (unchanged offset-only when flat). */
function rescale(x: Float64Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  for (let i = 0; i < x.length; i++) x[i] = span !== 0 ? (x[i]! - lo) / span : x[i]! - lo;
}

/** Cosine similarity, with a vector of zeros at 1 − the other's norm (ARTime's convention). */
function similarity(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0) return 1 - Math.sqrt(bb);
  if (bb === 0) return 1 - Math.sqrt(aa);
  return ab / Math.sqrt(aa * bb);
}

/** A fixed-length window of the newest values. */
class Ring {
  private readonly values: Float64Array;
  private head = 0;
  constructor(length: number, fill: number) {
    this.values = new Float64Array(Math.max(1, length)).fill(fill);
  }
  push(v: number): void {
    this.values[this.head] = v;
    this.head = (this.head + 1) % this.values.length;
  }
  min(): number {
    let m = Infinity;
    for (const v of this.values) if (v < m) m = v;
    return m;
  }
  /** mean of the values above `floor`, each capped at `cap`; 0 when none */
  meanAbove(floor: number, cap: number): number {
    let sum = 0;
    let n = 0;
    for (const v of this.values) {
      if (v > floor) {
        sum += v < cap ? v : cap;
        n++;
      }
    }
    return n > 0 ? sum / n : 0;
  }
}

export class DualVigilance implements StreamingDetector {
  private readonly step: number;
  /** downsampled samples in the probationary period: learned in one batch when it ends */
  private readonly trendWindow: number;
  /** downsampled samples masked after an anomaly (and after which the vigilances update) */
  private readonly mask: number;
  private readonly min: number;
  private readonly span: number;
  private readonly dims: number;
  private readonly art: DualVigilanceArt;
  private readonly blocks: Blocks;
  private readonly levelHistogram: LevelHistogram;
  private readonly levelWindow: Float64Array;
  private readonly scratch: Float64Array;
  /** the probationary period's features, replayed when it ends */
  private readonly batch: Float64Array[] = [];
  /** the features of each sample after the probationary period (not retained: one buffer reused) */
  private readonly current: Float64Array;
  private readonly currentShape: Float64Array;
  /** downsampled samples so far (ARTime's 1-based index) */
  private index = 0;
  private lastAnomaly = 0;
  private lastAnomalyMatch = 0;
  private lastVigilanceUpdate = 0;
  private maskAfterCluster = false;
  private sinceCluster = 0;
  private matchMean = 0;
  private matchCount = 0;
  private readonly recentMatches: Ring;
  private readonly recentShortfalls: Ring;
  private anomalyMatchSum = 0;
  private anomalyCount = 0;
  private lastAnomalyRecorded = 0;
  private readonly novelty: RunningZ;

  constructor(options: DetectorOptions, private readonly config: DualVigilanceConfig = DEFAULT_DUAL_VIGILANCE) {
    const { window } = config;
    if (!(window >= 2 && (window & (window - 1)) === 0)) throw new Error(`dual-vigilance: window must be a power of two, not ${window}`);
    let probation = Math.max(2 * window, Math.floor(options.probationaryPeriod));
    probation -= probation % 2;
    this.step = Math.max(1, Math.floor(probation / (window * config.windowsPerProbation)));
    this.trendWindow = Math.floor(probation / this.step);
    this.mask = window * 1.5;
    const range = options.inputMax - options.inputMin;
    this.min = Number.isFinite(options.inputMin) ? options.inputMin : 0;
    this.span = Number.isFinite(range) && range > 0 ? range : 1;
    this.dims = 2 * window;
    this.art = new DualVigilanceArt(this.dims, config.maxCategories, this.dims - 1, config.initialVigilance);
    this.blocks = new Blocks(this.step);
    this.levelHistogram = new LevelHistogram(config.levels, config.memory);
    this.levelWindow = new Float64Array(window);
    this.scratch = new Float64Array(window);
    this.current = new Float64Array(this.dims);
    this.currentShape = this.current.subarray(0, window);
    this.recentMatches = new Ring(Math.floor(this.trendWindow / 2) + 1, 1);
    this.recentShortfalls = new Ring(this.trendWindow + 1, 0);
    this.novelty = new RunningZ(config.memory);
  }

  /** boxes in the memory (at most maxCategories) */
  get boxCount(): number {
    return this.art.count;
  }

  /** the lower and upper vigilance now */
  get vigilance(): { lower: number; upper: number } {
    return { lower: this.art.lower, upper: this.art.upper };
  }

  update(sample: DetectorInput): number {
    const x = sample.value;
    if (!Number.isFinite(x)) return 0;
    const b = this.blocks;
    if (!b.push(x)) return 0;
    this.index++;
    // The block's extreme, unless it is within `spike` of the block's mean (relative to the mean).
    const features = this.features(Math.abs(b.extreme - b.mean) < this.config.spike * Math.abs(b.mean) ? b.mean : b.extreme);
    if (this.index < this.trendWindow) {
      this.batch.push(features);
      return 0;
    }
    if (this.index === this.trendWindow) {
      this.batch.push(features);
      this.endProbation();
      return 0;
    }
    return this.detect(features, this.index);
  }

  private features(value: number): Float64Array {
    const { levels, window } = this.config;
    const bin = this.levelHistogram.bin(value, this.min, this.span);
    this.levelHistogram.add(bin);
    let level = bin / levels;
    const median = this.levelHistogram.median() / levels;
    if (Math.abs(level - median) < this.config.snap) level = median;
    this.levelWindow.copyWithin(0, 1);
    this.levelWindow[window - 1] = level;
    // Probationary features are kept for the replay; later ones are used once.
    const f = this.index <= this.trendWindow ? new Float64Array(this.dims) : this.current;
    if (this.index < window) {
      f.fill(0);
    } else {
      const shape = f === this.current ? this.currentShape : f.subarray(0, window);
      shape.set(this.levelWindow);
      rescale(shape);
      haar(shape, this.scratch);
      rescale(shape);
      f.set(this.levelWindow, window);
    }
    return f;
  }

  /**
   * The probationary period is over: set the vigilance from its windows (replayed least typical
   * first into a trial memory, the mean match of the second half), then learn them in order.
   */
  private endProbation(): void {
    const { window } = this.config;
    const full = this.batch.slice(window - 1);
    const n = full.length;
    const typicality = new Float64Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) {
        const s = similarity(full[i]!, full[j]!);
        typicality[i]! += s;
        typicality[j]! += s;
      }
    }
    const order = [...full.keys()].sort((a, b) => typicality[a]! - typicality[b]!);
    const trial = new DualVigilanceArt(this.dims, this.config.maxCategories, this.dims - 1, this.config.initialVigilance);
    const from = Math.floor(this.trendWindow / 2);
    let sum = 0;
    let count = 0;
    order.forEach((k, position) => {
      trial.train(full[k]!, position, true);
      if (position + 1 >= from) {
        sum += trial.match;
        count++;
      }
    });
    const vigilance = count > 0 ? sum / count : this.config.initialVigilance;
    this.art.lower = vigilance;
    this.art.upper = vigilance;
    for (const [i, f] of this.batch.entries()) this.detect(f, i + 1);
    this.batch.length = 0;
  }

  private detect(f: Float64Array, i: number): number {
    const { window } = this.config;
    const art = this.art;
    const sinceAnomaly = i - this.lastAnomaly;
    const updateAfterAnomaly = sinceAnomaly === this.mask;
    const updateForTrend = i - this.lastVigilanceUpdate >= Math.floor(this.trendWindow / 2);
    const maskAfterAnomaly = sinceAnomaly <= this.mask;
    if (i > this.trendWindow + this.mask && this.maskAfterCluster && this.sinceCluster >= this.mask) this.maskAfterCluster = false;
    // Windows before the first full one are presented without learning (they only open the memory).
    const learn = i >= window;
    const founded = art.train(f, i, learn);
    const newCluster = !learn || founded;
    this.sinceCluster = newCluster ? 0 : this.sinceCluster + 1;
    const match = art.match;
    this.matchCount = Math.min(this.matchCount + 1, this.config.memory);
    this.matchMean += (match - this.matchMean) / this.matchCount;
    this.recentMatches.push(match);
    this.recentShortfalls.push(art.upper - match);
    const z = this.novelty.z(1 - match);
    if (sinceAnomaly < this.mask && this.anomalyCount > 0 && match < this.lastAnomalyRecorded) {
      this.anomalyMatchSum += match - this.lastAnomalyRecorded;
      this.lastAnomalyRecorded = match;
    }
    const masked = this.maskAfterCluster || maskAfterAnomaly;
    const farther = match < this.lastAnomalyMatch * (maskAfterAnomaly ? 0.9 : 0.7);
    let score = 0;
    if (i > this.trendWindow && newCluster && (!masked || farther)) {
      const { zHalf } = this.config;
      score = zHalf > 0 ? (z > 0 ? z / (z + zHalf) : 0) : this.confidence(match, art.energy);
      this.anomalyMatchSum += match;
      this.anomalyCount++;
      this.lastAnomalyRecorded = match;
      this.lastAnomalyMatch = match;
      this.lastAnomaly = i;
    }
    this.maskAfterCluster ||= newCluster;
    if (i > this.trendWindow && (updateAfterAnomaly || updateForTrend)) this.updateVigilance(i);
    return score;
  }

  private updateVigilance(i: number): void {
    const art = this.art;
    const worstRecent = this.recentMatches.min();
    const upper = Math.min(this.config.maxVigilance, this.matchMean);
    let lower: number;
    if (art.lower <= worstRecent) {
      lower = art.lower + (worstRecent - art.lower) * LOWER_RISE;
    } else {
      const shortfall = i > 2 * this.trendWindow ? this.recentShortfalls.meanAbove(MIN_SHORTFALL, MAX_SHORTFALL) : 0;
      lower = art.lower - Math.max(0.01, shortfall) / 2;
      if (this.anomalyCount > 0) lower = Math.max(this.anomalyMatchSum / this.anomalyCount, lower);
    }
    art.lower = Math.min(upper, lower);
    art.upper = upper;
    this.lastVigilanceUpdate = i;
    this.maskAfterCluster = true;
  }

  private confidence(match: number, energy: number): number {
    const m = Math.min(0.999, match);
    const belowUpper = (this.art.upper - m) / (1 - m);
    const belowLower = (this.art.lower - m) / (1 - m);
    const s = UPPER_WEIGHT * belowUpper + LOWER_WEIGHT * belowLower + ENERGY_WEIGHT * (1 - energy);
    return Math.max(0, Math.min(1, s));
  }
}

export function dualVigilanceFactory(config: DualVigilanceConfig = DEFAULT_DUAL_VIGILANCE, name = 'dual-vigilance'): DetectorFactory {
  return { name, create: (options: DetectorOptions) => new DualVigilance(options, config) };
}

export const dualVigilance: DetectorFactory = dualVigilanceFactory();
