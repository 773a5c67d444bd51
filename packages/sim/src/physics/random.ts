/**
 * Seeded randomness for the physics model. Every noise source draws from its own stream, seeded
 * from (site seed, asset, signal), so adding an asset or a signal never changes the others.
 */

/** FNV-1a (32-bit) over the parts, joined by ':'. */
export function hashSeed(...parts: Array<string | number>): number {
  let h = 0x811c9dc5;
  const text = parts.join(':');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for simulated sensor noise (not for anything secret). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/**
 * Correlated noise: an Ornstein-Uhlenbeck process with stationary standard deviation `sigma`
 * and correlation time `tauSec`. The update is the exact discretisation, so the statistics do not
 * depend on the step size: stepping once by an hour or 3600 times by a second are equally valid.
 */
export class Wander {
  value: number;
  private readonly rng: Rng;
  private readonly sigma: number;
  private readonly tauSec: number;

  constructor(rng: Rng, sigma: number, tauSec: number) {
    this.rng = rng;
    this.sigma = sigma;
    this.tauSec = tauSec;
    this.value = sigma * rng.normal();
  }

  advance(dtSec: number): number {
    if (dtSec <= 0) return this.value;
    const a = Math.exp(-dtSec / this.tauSec);
    this.value = this.value * a + this.sigma * Math.sqrt(1 - a * a) * this.rng.normal();
    return this.value;
  }
}

/** First-order lag towards a target with time constant `tauSec` (exact for any step). */
export function approach(current: number, target: number, dtSec: number, tauSec: number): number {
  if (dtSec <= 0) return current;
  return target + (current - target) * Math.exp(-dtSec / tauSec);
}

export function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}
