/**
 * How much detector work live analytics may do (issue 14: it degrades gracefully — scores fewer
 * points, and says so — rather than falling behind). A token bucket of milliseconds: work earns
 * `share` ms per ms of the clock, at most `burstMs` saved up, and each piece of work spends what
 * it measurably took on the same clock. Work may start while the balance is positive (the last
 * piece may overdraw it; the debt is paid before the next).
 *
 * Time-based rather than counted in detector updates because one update costs anything from a
 * microsecond (a quiet point, the multivariate model) to milliseconds (the contextual detector on
 * noisy data at its memory cap, bench/detect): what must not be exceeded is the share of the core.
 */

export interface ScoringBudgetOptions {
  /** Share of one core the detectors may use, 0 < share ≤ 1. */
  share: number;
  /** Most work saved up while idle, ms: also the longest the detectors run in one go. */
  burstMs: number;
  /** Monotonic milliseconds (injected: tests drive it). */
  clock: () => number;
}

export class ScoringBudget {
  private balance: number;
  private last: number;
  /** Total measured work, ms. */
  workMs = 0;

  constructor(private readonly o: ScoringBudgetOptions) {
    if (!(o.share > 0 && o.share <= 1)) throw new RangeError(`the scoring share must be in (0, 1] (got ${o.share})`);
    if (!(o.burstMs > 0)) throw new RangeError(`the scoring burst must be positive (got ${o.burstMs})`);
    this.balance = o.burstMs;
    this.last = o.clock();
  }

  get share(): number { return this.o.share; }
  get burstMs(): number { return this.o.burstMs; }

  now(): number {
    return this.o.clock();
  }

  /** true while work may start. */
  available(): boolean {
    const now = this.o.clock();
    this.balance = Math.min(this.o.burstMs, this.balance + (now - this.last) * this.o.share);
    this.last = now;
    return this.balance > 0;
  }

  /** Runs `work` and spends the time it took. */
  spend(work: () => void): void {
    const t0 = this.o.clock();
    try {
      work();
    } finally {
      const took = Math.max(0, this.o.clock() - t0);
      this.balance -= took;
      this.workMs += took;
    }
  }
}
