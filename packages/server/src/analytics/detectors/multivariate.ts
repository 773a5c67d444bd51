/**
 * Multivariate detection per asset (issue 14): an asset's points scored together against a
 * learned normal state, so a fault that moves several sensors a little — each within its own
 * noise — is seen before any one of them looks odd.
 *
 * Method: principal component analysis of the standardised points over a period declared normal,
 * then Hotelling's T² (distance inside the normal subspace) and Q, the squared prediction error
 * (distance off it: a broken correlation). The classic pair of multivariate statistical process
 * control (MacGregor & Kourti 1995; the "T²+Q" of SKAB's leaderboard). Two choices for plant data:
 *
 * - The inputs are exponentially weighted means of the standardised points (MEWMA, Lowry 1992):
 *   small persistent shifts add up while independent noise averages out. `smoothing` is the
 *   weight of the newest sample (0.1: about 20 samples of memory).
 * - The control limits are empirical: the `limitQuantile` quantile of T² and Q over the normal
 *   period itself, passed through the same smoothing, so autocorrelated and non-normal signals
 *   get limits that hold for them (parametric F and chi-square limits assume neither).
 *
 * Training is online (Welford mean and co-moment matrix, O(d²) per sample); after `trainSamples`
 * samples the model is fitted (Jacobi eigen-decomposition, O(d³) once) and scoring starts. Memory
 * is O(d²) plus the last `reservoir` normal samples until the fit. `explain()` says which points
 * moved, by how much against their learned normal, their share of the statistic, and since when.
 */

export interface MultivariateConfig {
  /** Samples of the declared-normal period before the model is fitted (default 10,080: a week of minute means). */
  trainSamples: number;
  /** Share of the standardised variance the retained components explain (default 0.9). */
  varianceExplained: number;
  /** Weight of the newest sample in the exponentially weighted inputs (default 0.1: about 20 samples of memory). */
  smoothing: number;
  /** Quantile of the normal period's statistics the control limit is set from (default 0.999). */
  limitQuantile: number;
  /**
   * The control limit is `limitMargin` times that quantile (default 1.5). A declared-normal period
   * never holds every normal condition (a hotter afternoon, a more humid week); at 1, bench/multivariate
   * saw half of its fault-free episodes raise a false alarm after a week of training, at 1.5 none
   * of 36 episodes did, for a few hours' later detection (docs/benchmarks.md).
   */
  limitMargin: number;
  /** The latest normal samples kept, in order, to set the limits (default 10,080; freed at the fit). */
  reservoir: number;
  /** Samples a statistic must stay over its limit before `alarm` is true (default 10). */
  sustain: number;
  /**
   * After the fit, each point's normal level follows slow normal change (filters loading, seasons)
   * with this memory in samples, learning only from samples well inside the limits (ratio below
   * `adaptBelow`). 0 turns it off. Default 2,880 (two days of minute means): a fault that builds
   * over hours is absorbed by a few percent at most.
   */
  adaptSamples: number;
  adaptBelow: number;
}

export const DEFAULT_MULTIVARIATE: MultivariateConfig = {
  trainSamples: 10_080, varianceExplained: 0.9, smoothing: 0.1, limitQuantile: 0.999, limitMargin: 1.5, reservoir: 10_080, sustain: 10,
  adaptSamples: 2880, adaptBelow: 0.5,
};

export interface MultivariateScore {
  /** max(T²/limit, Q/limit): 1 is the control limit. 0 while training. */
  ratio: number;
  /** Score in [0, 1): ratio / (1 + ratio). 0.5 is the control limit. */
  score: number;
  t2: number;
  q: number;
  /** The ratio has been at or above 1 for `sustain` samples in a row. */
  alarm: boolean;
  trained: boolean;
}

export interface PointMove {
  point: string;
  /** Smoothed value against the normal period: (value − normal mean) / normal std. */
  z: number;
  /** Smoothed value, in the point's units. */
  value: number;
  normalMean: number;
  normalStd: number;
  /** Share of the exceeding statistic (Q: squared residual; T²: its per-variable contribution), 0..1. */
  share: number;
}

export interface MultivariateExplanation {
  statistic: 'T2' | 'Q';
  ratio: number;
  /** When the current excursion began (ts of the first sample over the limit), or undefined. */
  since: number | undefined;
  /** Points by share of the statistic, largest first. */
  moves: PointMove[];
}

/** Symmetric eigen-decomposition by cyclic Jacobi rotations: values descending, vectors as columns. */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!;
          const akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!;
          const aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j]! - m[i * n + i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = Math.max(0, m[src * n + src]!);
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Infinity;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

export class MultivariateDetector {
  readonly points: readonly string[];
  readonly #c: MultivariateConfig;
  readonly #d: number;
  // Training: Welford running mean and co-moments of the raw points.
  #n = 0;
  readonly #mean: Float64Array;
  readonly #comoment: Float64Array;
  readonly #reservoir: Float64Array[] = [];
  // Fitted model.
  #trained = false;
  readonly #std: Float64Array;
  #k = 0;
  #loadings = new Float64Array(0);
  #eigen = new Float64Array(0);
  #t2Limit = Infinity;
  #qLimit = Infinity;
  // Scoring state.
  readonly #smoothed: Float64Array;
  #primed = false;
  #over = 0;
  #since: number | undefined;
  #last: { t2: number; q: number; residual: Float64Array; scores: Float64Array } | undefined;

  constructor(points: readonly string[], config: Partial<MultivariateConfig> = {}) {
    if (points.length < 2) throw new RangeError('a multivariate detector needs at least two points');
    this.points = [...points];
    this.#c = { ...DEFAULT_MULTIVARIATE, ...config };
    if (!(this.#c.smoothing > 0 && this.#c.smoothing <= 1)) throw new RangeError('smoothing must be in (0, 1]');
    if (!(this.#c.limitMargin >= 1)) throw new RangeError('limitMargin must be 1 or more');
    if (!(this.#c.trainSamples >= points.length + 2)) throw new RangeError('trainSamples must exceed the number of points + 1');
    this.#d = points.length;
    this.#mean = new Float64Array(this.#d);
    this.#comoment = new Float64Array(this.#d * this.#d);
    this.#std = new Float64Array(this.#d);
    this.#smoothed = new Float64Array(this.#d);
  }

  get trained(): boolean { return this.#trained; }
  /** Principal components kept (0 before fitting). */
  get components(): number { return this.#k; }
  get limits(): { t2: number; q: number } { return { t2: this.#t2Limit, q: this.#qLimit }; }

  /**
   * One sample: the points' values in `points` order. During the declared-normal period it is
   * learned; after it, scored. A vector with a non-finite value is skipped (score of the last one).
   */
  update(values: ArrayLike<number>, ts: number): MultivariateScore {
    for (let i = 0; i < this.#d; i++) if (!Number.isFinite(values[i])) return this.#result(ts, false);
    if (!this.#trained) {
      this.#learn(values);
      if (this.#n >= this.#c.trainSamples) this.#fit();
      return { ratio: 0, score: 0, t2: 0, q: 0, alarm: false, trained: this.#trained };
    }
    this.#score(this.#smooth(values));
    const result = this.#result(ts, true);
    if (this.#c.adaptSamples > 0 && result.ratio < this.#c.adaptBelow) {
      const w = 1 / this.#c.adaptSamples;
      for (let i = 0; i < this.#d; i++) this.#mean[i]! += w * (values[i]! - this.#mean[i]!);
    }
    return result;
  }

  #learn(x: ArrayLike<number>): void {
    this.#n++;
    const d = this.#d;
    const delta = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      delta[i] = x[i]! - this.#mean[i]!;
      this.#mean[i]! += delta[i]! / this.#n;
    }
    for (let i = 0; i < d; i++) {
      const after = x[i]! - this.#mean[i]!;
      for (let j = 0; j < d; j++) this.#comoment[i * d + j]! += delta[j]! * after;
    }
    // The latest `reservoir` samples, in order: the limits replay them through the smoothing.
    this.#reservoir.push(Float64Array.from({ length: d }, (_, i) => x[i]!));
    if (this.#reservoir.length > this.#c.reservoir) this.#reservoir.shift();
  }

  #fit(): void {
    const d = this.#d;
    for (let i = 0; i < d; i++) {
      const variance = this.#comoment[i * d + i]! / (this.#n - 1);
      // A constant point (a setpoint) gets a nominal spread: any change of it is then far out.
      this.#std[i] = Math.sqrt(variance) > 1e-9 * Math.max(1, Math.abs(this.#mean[i]!)) ? Math.sqrt(variance) : Math.max(1e-6, Math.abs(this.#mean[i]!) * 1e-3);
    }
    const corr = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) corr[i * d + j] = this.#comoment[i * d + j]! / (this.#n - 1) / (this.#std[i]! * this.#std[j]!);
    const { values, vectors } = symmetricEigen(corr, d);
    const total = values.reduce((a, b) => a + b, 0) || 1;
    let k = 0;
    let acc = 0;
    while (k < d - 1 && acc / total < this.#c.varianceExplained) acc += values[k++]!;
    this.#k = Math.max(1, k);
    this.#loadings = new Float64Array(d * this.#k);
    this.#eigen = new Float64Array(this.#k);
    for (let c = 0; c < this.#k; c++) {
      this.#eigen[c] = Math.max(values[c]!, 1e-9);
      for (let i = 0; i < d; i++) this.#loadings[i * this.#k + c] = vectors[i * d + c]!;
    }
    this.#trained = true;
    // Limits: the normal period through the same smoothing, from the mean (as scoring starts).
    const t2s: number[] = [];
    const qs: number[] = [];
    this.#primed = false;
    const warm = Math.ceil(3 / this.#c.smoothing);
    this.#reservoir.forEach((x, idx) => {
      this.#score(this.#smooth(x));
      if (idx >= warm) { t2s.push(this.#last!.t2); qs.push(this.#last!.q); }
    });
    this.#t2Limit = Math.max(quantile(t2s, this.#c.limitQuantile) * this.#c.limitMargin, 1e-9);
    this.#qLimit = Math.max(quantile(qs, this.#c.limitQuantile) * this.#c.limitMargin, 1e-9);
    this.#reservoir.length = 0;
    this.#primed = false;
    this.#over = 0;
    this.#since = undefined;
  }

  /** Standardises and smooths one vector; the first after fitting starts the average. */
  #smooth(x: ArrayLike<number>): Float64Array {
    const a = this.#c.smoothing;
    for (let i = 0; i < this.#d; i++) {
      const z = (x[i]! - this.#mean[i]!) / this.#std[i]!;
      this.#smoothed[i] = this.#primed ? a * z + (1 - a) * this.#smoothed[i]! : z;
    }
    this.#primed = true;
    return this.#smoothed;
  }

  #score(z: Float64Array): void {
    const d = this.#d;
    const k = this.#k;
    const scores = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += z[i]! * this.#loadings[i * k + c]!;
      scores[c] = s;
    }
    let t2 = 0;
    for (let c = 0; c < k; c++) t2 += (scores[c]! * scores[c]!) / this.#eigen[c]!;
    const residual = new Float64Array(d);
    let q = 0;
    for (let i = 0; i < d; i++) {
      let recon = 0;
      for (let c = 0; c < k; c++) recon += scores[c]! * this.#loadings[i * k + c]!;
      residual[i] = z[i]! - recon;
      q += residual[i]! * residual[i]!;
    }
    this.#last = { t2, q, residual, scores };
  }

  #result(ts: number, fresh: boolean): MultivariateScore {
    if (!this.#trained || !this.#last) return { ratio: 0, score: 0, t2: 0, q: 0, alarm: false, trained: this.#trained };
    const { t2, q } = this.#last;
    const ratio = Math.max(t2 / this.#t2Limit, q / this.#qLimit);
    if (fresh) {
      if (ratio >= 1) {
        this.#over++;
        this.#since ??= ts;
      } else {
        this.#over = 0;
        this.#since = undefined;
      }
    }
    return { ratio, score: ratio / (1 + ratio), t2, q, alarm: this.#over >= this.#c.sustain, trained: true };
  }

  /** Which points moved, by how much against their learned normal, and since when; undefined before fitting. */
  explain(): MultivariateExplanation | undefined {
    if (!this.#trained || !this.#last) return undefined;
    const { t2, q, residual, scores } = this.#last;
    const t2Ratio = t2 / this.#t2Limit;
    const qRatio = q / this.#qLimit;
    const statistic = qRatio >= t2Ratio ? 'Q' : 'T2';
    const d = this.#d;
    const k = this.#k;
    const contrib = new Float64Array(d);
    if (statistic === 'Q') {
      for (let i = 0; i < d; i++) contrib[i] = residual[i]! * residual[i]!;
    } else {
      // Per-variable T² contributions (Westerhuis et al. 2000), negative parts set to 0.
      for (let i = 0; i < d; i++) {
        let c = 0;
        for (let j = 0; j < k; j++) c += (scores[j]! / this.#eigen[j]!) * this.#loadings[i * k + j]! * this.#smoothed[i]!;
        contrib[i] = Math.max(0, c);
      }
    }
    const sum = contrib.reduce((a, b) => a + b, 0) || 1;
    const moves: PointMove[] = this.points.map((point, i) => ({
      point,
      z: this.#smoothed[i]!,
      value: this.#mean[i]! + this.#smoothed[i]! * this.#std[i]!,
      normalMean: this.#mean[i]!,
      normalStd: this.#std[i]!,
      share: contrib[i]! / sum,
    })).sort((a, b) => b.share - a.share);
    return { statistic, ratio: Math.max(t2Ratio, qRatio), since: this.#since, moves };
  }
}
