/** Floor of the standard deviation in a running z (a near-constant value's spread is ~0). */
export const MIN_SPREAD = 0.01;

/**
 * Running mean and variance of a stream of values (equal weight up to `memory` values, then
 * fading): `z(x)` is the z-score of each new value against the values before it, which it then
 * joins (the reference never dilutes itself).
 */
export class RunningZ {
  private mean = 0;
  private variance = 0;
  private count = 0;
  constructor(private readonly memory: number) {}
  z(x: number): number {
    const z = this.count > 1 ? (x - this.mean) / Math.max(MIN_SPREAD, Math.sqrt(this.variance)) : 0;
    this.count = Math.min(this.count + 1, this.memory);
    const d = x - this.mean;
    this.mean += d / this.count;
    this.variance += (d * (x - this.mean) - this.variance) / this.count;
    return z;
  }
}
