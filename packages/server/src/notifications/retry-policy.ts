/** When a failed delivery is tried again, and when trying again cannot help. */

export type ResponseVerdict = 'delivered' | 'retry' | 'reject';

/**
 * 2xx: delivered. 408, 425, 429 and 5xx: the receiver may take it later. Anything else (a
 * redirect, another 4xx) says the request itself is wrong, and the same bytes will be refused
 * again: the delivery is dead-lettered at once rather than holding up the endpoint's queue for
 * the whole backoff (PagerDuty Events API v2 documents 400 as "do not retry", 429 and 5xx as "retry").
 */
export function verdictOf(status: number): ResponseVerdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'reject';
}

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** [0, 1), injected so tests know the jitter. */
  random: () => number;
}

/**
 * Delay before retry number `retry` (1-based): base·2^(retry-1), capped at maxDelayMs, with "equal
 * jitter" (uniform in (d/2, d]): servers that lost the same endpoint do not all come back at the
 * same instant, and no retry comes almost at once. `random() = 0` gives the exact schedule.
 * A receiver's Retry-After is honoured, up to maxDelayMs.
 */
export function retryDelayMs(policy: BackoffPolicy, retry: number, retryAfterMs?: number): number {
  const d = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(0, retry - 1), 52));
  const jittered = d - Math.floor((policy.random() * d) / 2);
  return retryAfterMs === undefined ? jittered : Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs));
}

/** RFC 9110 §10.2.3: `Retry-After` is delay-seconds or an HTTP-date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
