import type { DetectorFactory, DetectorInput, DetectorOptions, StreamingDetector } from './detector.ts';

/**
 * NAB's windowed Gaussian baseline: the score of a sample is the two-sided normal "how unusual"
 * probability 2Φ(|x - μ| / σ) - 1 under the mean and standard deviation of the previous `windowSize`
 * samples. A sanity check for the NAB scorer, not a detector to alarm on.
 */
export interface WindowedGaussianConfig {
  /**
   * NAB's stored windowedGaussian results (the published ~36 on our 42 files) were produced with a
   * 6400-sample window; the current NAB source says 1000.
   */
  windowSize: number;
}

export const DEFAULT_WINDOWED_GAUSSIAN: WindowedGaussianConfig = { windowSize: 6400 };

/**
 * Complementary error function to ~1e-15: Maclaurin series below 2, Lentz continued fraction
 * above. Rational approximations (Abramowitz–Stegun 7.1.26) are too coarse: NAB's threshold
 * sweep separates scores that differ in the 7th digit near 1.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  let result: number;
  if (z < 2) {
    // Maclaurin series for erf, converges fast for |x| < 2.
    let sum = z;
    let term = z;
    const z2 = z * z;
    for (let n = 1; n < 100; n++) {
      term *= -z2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    result = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // Lentz continued fraction for erfc, converges fast for |x| >= 2.
    const tiny = 1e-300;
    let f = z;
    let c = z;
    let d = 0;
    for (let n = 1; n < 200; n++) {
      const a = n / 2;
      d = z + a * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = z + a / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      const delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    result = Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
  }
  return x < 0 ? 2 - result : result;
}

class WindowedGaussian implements StreamingDetector {
  private readonly window: Float64Array;
  private count = 0;
  private head = 0;
  private mean = 0;
  private std = 1;
  private sinceRecompute = 0;
  // Sums of (x - shift) keep the running variance accurate for large offsets.
  private shift = 0;
  private sum = 0;
  private sumSq = 0;

  constructor(windowSize: number) {
    this.window = new Float64Array(Math.max(1, Math.floor(windowSize)));
  }

  update(sample: DetectorInput): number {
    const x = sample.value;
    if (!Number.isFinite(x)) return 0;
    let score = 0;
    if (this.count > 0) {
      const z = Math.abs(x - this.mean) / this.std;
      // NAB reports Φ(|z|) in [0.5, 1]; 2Φ(|z|) - 1 ranks samples identically (same NAB score)
      // and puts an ordinary sample at 0 rather than 0.5.
      score = 1 - erfc(z / Math.SQRT2);
    }
    this.push(x);
    return Math.min(1, Math.max(0, score));
  }

  private push(x: number): void {
    const size = this.window.length;
    if (this.count === 0) this.shift = x;
    if (this.count < size) {
      this.window[this.count++] = x;
    } else {
      const old = this.window[this.head]!;
      this.window[this.head] = x;
      this.head = (this.head + 1) % size;
      this.sum -= old - this.shift;
      this.sumSq -= (old - this.shift) ** 2;
    }
    this.sum += x - this.shift;
    this.sumSq += (x - this.shift) ** 2;
    if (++this.sinceRecompute >= size) this.recompute();
    const m = this.sum / this.count;
    this.mean = this.shift + m;
    const variance = Math.max(0, this.sumSq / this.count - m * m);
    this.std = Math.sqrt(variance);
    if (!(this.std > 0)) this.std = 0.000001;
  }

  /** Exact resummation once per window length so rounding error never accumulates. */
  private recompute(): void {
    this.sinceRecompute = 0;
    this.shift = this.window[this.head]!;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < this.count; i++) {
      const d = this.window[i]! - this.shift;
      s += d;
      s2 += d * d;
    }
    this.sum = s;
    this.sumSq = s2;
  }
}

export function windowedGaussianFactory(config: WindowedGaussianConfig = DEFAULT_WINDOWED_GAUSSIAN): DetectorFactory {
  return {
    name: 'windowedGaussian',
    create: (_options: DetectorOptions) => new WindowedGaussian(config.windowSize),
  };
}

export const windowedGaussian: DetectorFactory = windowedGaussianFactory();
