import { hashSeed, Rng, Wander } from './random.ts';

/**
 * The noise sources of one asset (or of the site). Each source has its own stream, seeded from
 * (seed, scope, name), so sources are independent and reproducible.
 */
export class NoiseBank {
  private readonly seed: number;
  private readonly scope: string;
  private readonly sources: Wander[] = [];

  constructor(seed: number, scope: string) {
    this.seed = seed;
    this.scope = scope;
  }

  wander(name: string, sigma: number, tauSec: number): Wander {
    const w = new Wander(this.rng(name), sigma, tauSec);
    this.sources.push(w);
    return w;
  }

  /** A stream for fixed per-asset parameters (ratings, imbalances, initial counters). */
  rng(name: string): Rng {
    return new Rng(hashSeed(this.seed, this.scope, name));
  }

  advance(dtSec: number): void {
    for (const s of this.sources) s.advance(dtSec);
  }
}
