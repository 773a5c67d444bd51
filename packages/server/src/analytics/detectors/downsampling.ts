/**
 * Blocks of `step` samples, each summarised when full by its mean and its extreme on the side away
 * from a running mean of block means (the sample of the block most unlike the recent signal): the
 * downsampling of the adaptive-resonance detectors (`resonance`, `dual-vigilance`), which choose
 * between the two by their own spike test.
 */
export class Blocks {
  private readonly block: Float64Array;
  private fill = 0;
  private runningMean = NaN;
  /** of the last full block */
  mean = 0;
  extreme = 0;
  constructor(private readonly step: number) {
    this.block = new Float64Array(step);
  }

  /** Adds a sample; true when it completed a block (then `mean` and `extreme` describe it). */
  push(x: number): boolean {
    this.block[this.fill++] = x;
    if (this.fill < this.step) return false;
    this.fill = 0;
    let sum = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < this.step; i++) {
      const v = this.block[i]!;
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.mean = sum / this.step;
    this.runningMean = Number.isNaN(this.runningMean) ? this.mean : (this.runningMean + this.mean) / 2;
    this.extreme = Math.abs(hi - this.runningMean) >= Math.abs(lo - this.runningMean) ? hi : lo;
    return true;
  }
}

/**
 * The quantised levels of a downsampled signal and their running median, for the adaptive-resonance
 * detectors (`resonance`, `dual-vigilance`): a histogram of `levels` + 1 bins that fades once it
 * holds more than `memory` samples, so that on live telemetry the median follows the point's
 * normal as it moves over months (a NAB file is shorter than the default memory).
 */
export class LevelHistogram {
  private readonly counts: Float64Array;
  private total = 0;
  private added = 0;
  constructor(private readonly levels: number, private readonly memory: number) {
    this.counts = new Float64Array(levels + 1);
  }

  /** The bin of a value in a range of `span` from `min`, clamped to the histogram. */
  bin(value: number, min: number, span: number): number {
    const bin = Math.round(((value - min) / span) * this.levels);
    if (!(bin >= 0)) return 0;
    return bin > this.levels ? this.levels : bin;
  }

  add(bin: number): void {
    this.counts[bin]!++;
    this.total++;
    this.added++;
    if ((this.added & 63) === 0 && this.total > this.memory) {
      // Fade: the median follows the last `memory` samples or so.
      const keep = 1 - 64 / this.memory;
      for (let b = 0; b < this.counts.length; b++) this.counts[b]! *= keep;
      this.total *= keep;
    }
  }

  /** The running median bin. */
  median(): number {
    const half = this.total / 2;
    let seen = 0;
    for (let b = 0; b < this.counts.length; b++) {
      seen += this.counts[b]!;
      if (seen >= half) return b;
    }
    return this.counts.length - 1;
  }
}
