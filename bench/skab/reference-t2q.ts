/**
 * The baseline of bench/skab: T² + Q on principal components as SKAB's leaderboard computes it
 * (its "T-squared+Q (PCA-based)" row, F1 0.76), written afresh from the method and the leaderboard's
 * description of its pipeline, so that the harness can be checked against the published figure and
 * our detector compared with it in the same run:
 *
 * - fit on the training rows: drop the columns constant there, standardise (population standard
 *   deviation), keep the principal components that explain more than `explainedVariance` of the
 *   variance;
 * - T² limit from the F distribution, m (n − 1)(n + 1) / (n (n − m)) · F⁻¹(p; m, n − m);
 * - Q limit by Jackson and Mudholkar with the leaderboard's θᵢ = (Σ residual eigenvalues)ⁱ (the
 *   textbook has Σ λⁱ; with the leaderboard's form h₀ is always 1/3) and the normal quantile of p;
 * - each statistic through a rolling median of `window` rows; a row is an outlier when either is
 *   above its limit (the first `window` − 1 rows are not).
 */
import { symmetricEigen } from '@shellguard/server/testing';

export interface ReferenceOptions { explainedVariance: number; p: number; window: number }
export const REFERENCE_OPTIONS: ReferenceOptions = { explainedVariance: 0.85, p: 0.999, window: 5 };

/** ln Γ(x) for x > 0 (Lanczos, g = 7, nine coefficients). */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = c[0]!;
  for (let i = 1; i < 9; i++) s += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let f = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 / (Math.abs(1 + num * d) < tiny ? tiny : 1 + num * d);
    c = Math.abs(1 + num / c) < tiny ? tiny : 1 + num / c;
    f *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 / (Math.abs(1 + num * d) < tiny ? tiny : 1 + num * d);
    c = Math.abs(1 + num / c) < tiny ? tiny : 1 + num / c;
    const step = d * c;
    f *= step;
    if (Math.abs(step - 1) < 1e-14) break;
  }
  return f;
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** The F distribution's CDF with (d1, d2) degrees of freedom. */
export function fCdf(f: number, d1: number, d2: number): number {
  return f <= 0 ? 0 : incompleteBeta((d1 * f) / (d1 * f + d2), d1 / 2, d2 / 2);
}

/** The standard normal CDF (erfc by its Chebyshev-fitted rational form, error < 1.2e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** The p quantile of a CDF on [0, hi] by bisection (the leaderboard searches 0..15 the same way). */
function quantileOf(cdf: (x: number) => number, p: number, hi = 15): number {
  let lo = 0;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < p) lo = mid; else hi = mid;
  }
  return lo;
}

function rollingMedian(xs: Float64Array, window: number): Float64Array {
  const out = new Float64Array(xs.length).fill(Number.NaN);
  for (let i = window - 1; i < xs.length; i++) {
    const s = Array.from(xs.subarray(i - window + 1, i + 1)).sort((a, b) => a - b);
    out[i] = window % 2 === 1 ? s[(window - 1) / 2]! : (s[window / 2 - 1]! + s[window / 2]!) / 2;
  }
  return out;
}

/** Fits on `train` (rows × columns) and returns one outlier flag per row of `test`. */
export function referenceT2Q(train: number[][], test: number[][], o: ReferenceOptions = REFERENCE_OPTIONS): boolean[] {
  const cols = train[0]!.map((_, j) => j).filter((j) => train.some((r) => r[j] !== train[0]![j]));
  const n = train.length;
  const d = cols.length;
  const mean = cols.map((j) => train.reduce((s, r) => s + r[j]!, 0) / n);
  const std = cols.map((j, c) => Math.sqrt(train.reduce((s, r) => s + (r[j]! - mean[c]!) ** 2, 0) / n));
  const scale = (r: number[]): number[] => cols.map((j, c) => (r[j]! - mean[c]!) / std[c]!);
  const xs = train.map(scale);
  const cov = new Float64Array(d * d);
  for (const x of xs) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b]! += (x[a]! * x[b]!) / (n - 1);
  const { values, vectors } = symmetricEigen(cov, d);
  const total = values.reduce((s, v) => s + v, 0);
  let k = 0;
  let acc = 0;
  while (k < d && acc / total <= o.explainedVariance) acc += values[k++]!;
  const score = (x: number[]): { t2: number; q: number } => {
    let t2 = 0;
    const recon = new Float64Array(d);
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let a = 0; a < d; a++) s += x[a]! * vectors[a * d + c]!;
      t2 += (s * s) / values[c]!;
      for (let a = 0; a < d; a++) recon[a]! += s * vectors[a * d + c]!;
    }
    let q = 0;
    for (let a = 0; a < d; a++) q += (x[a]! - recon[a]!) ** 2;
    return { t2, q };
  };
  const t2Limit = ((k * (n - 1) * (n + 1)) / (n * (n - k))) * quantileOf((f) => fCdf(f, k, n - k), o.p);
  let theta1 = 0;
  for (let c = k; c < d; c++) theta1 += values[c]!;
  const theta = [theta1, theta1 ** 2, theta1 ** 3];
  const h0 = 1 - (2 * theta[0]! * theta[2]!) / (3 * theta[1]! ** 2);
  const ca = quantileOf(normalCdf, o.p);
  const qLimit = k < d
    ? theta[0]! * (1 + (ca * h0 * Math.sqrt(2 * theta[1]!)) / theta[0]! + (theta[1]! * h0 * (h0 - 1)) / theta[0]! ** 2) ** (1 / h0)
    : Infinity;
  const stats = test.map((r) => score(scale(r)));
  const t2 = rollingMedian(Float64Array.from(stats, (s) => s.t2), o.window);
  const q = rollingMedian(Float64Array.from(stats, (s) => s.q), o.window);
  return stats.map((_, i) => t2[i]! > t2Limit || q[i]! > qLimit);
}
