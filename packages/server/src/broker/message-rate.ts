/**
 * Per-device message rate (ARCHITECTURE.md §2, quotas): a token bucket per device id. `take`
 * answers how long the device should not be read, so the broker throttles by backpressure
 * rather than by dropping what a guardian sends.
 */
export interface MessageRateOptions {
  /** Sustained messages per second. */
  perSecond: number;
  /** Messages allowed at once above the sustained rate. */
  burst: number;
  now: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class MessageRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: MessageRateOptions) {}

  /** Takes one message from the device's bucket; returns 0, or the ms until it has a token again. */
  take(deviceId: string): number {
    const { perSecond, burst, now } = this.options;
    const t = now();
    let b = this.buckets.get(deviceId);
    if (!b) this.buckets.set(deviceId, (b = { tokens: burst, at: t }));
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) * perSecond) / 1000);
    b.at = t;
    b.tokens -= 1;
    if (b.tokens >= 0) return 0;
    return Math.ceil((-b.tokens * 1000) / perSecond);
  }

  forget(deviceId: string): void {
    this.buckets.delete(deviceId);
  }
}
