/**
 * A token bucket per client address, for the routes anyone can reach (the attestation exchange):
 * it bounds how much signature-verification work one address can make the server do. Time is
 * injected so tests need no sleeping.
 */
export interface RateLimit {
  /** Requests one address may make in a burst. */
  burst: number;
  /** Sustained requests per second per address. */
  perSecond: number;
}

/** Enough for a site's guardians behind one NAT to attest from cold; tune per deployment. */
export const DEFAULT_ATTESTATION_RATE_LIMIT: RateLimit = { burst: 200, perSecond: 50 };

/** Addresses remembered at most; beyond it, full (idle) buckets are forgotten first. */
const MAX_CLIENTS = 10_000;

interface Bucket { tokens: number; at: number }

export class ClientRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly limit: RateLimit;
  private readonly now: () => number;

  constructor(limit: RateLimit, now: () => number = Date.now) {
    if (!(limit.burst >= 1) || !(limit.perSecond > 0)) throw new RangeError('a rate limit needs burst >= 1 and perSecond > 0');
    this.limit = limit;
    this.now = now;
  }

  /** Takes one token for `client`; returns 0 when allowed, else the ms until the next token. */
  take(client: string): number {
    const now = this.now();
    const bucket = this.buckets.get(client) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.limit.perSecond) / 1000);
    bucket.at = now;
    this.buckets.delete(client); // re-insert: Map order is then least recently used first
    this.buckets.set(client, bucket);
    if (this.buckets.size > MAX_CLIENTS) this.forgetOldest();
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.limit.perSecond);
  }

  private forgetOldest(): void {
    for (const key of this.buckets.keys()) {
      this.buckets.delete(key);
      if (this.buckets.size <= MAX_CLIENTS) return;
    }
  }
}
