/**
 * Alarm notifications by signed webhook.
 *
 * Each delivery is a JSON body `{ id, timestamp, ...payload }` POSTed with
 *   x-shellguard-signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the webhook's secret>
 *   x-shellguard-timestamp: <epoch ms, equal to the body's `timestamp`>
 *   x-shellguard-delivery:  <delivery id, the same on every retry, for de-duplication>
 * The timestamp is inside the signed body, so a receiver that rejects timestamps outside a few
 * minutes refuses replays (see {@link verifyWebhookSignature}). Failed deliveries (network error,
 * timeout, non-2xx) are retried with exponential backoff, bounded in attempts and delay. `notify`
 * only enqueues: a slow or dead receiver never blocks alarm evaluation, and the number of
 * deliveries waiting is bounded (the oldest are dropped and counted beyond it).
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import { AlarmError } from './alarm-error.ts';

export const SIGNATURE_HEADER = 'x-shellguard-signature';
export const TIMESTAMP_HEADER = 'x-shellguard-timestamp';
export const DELIVERY_HEADER = 'x-shellguard-delivery';

export interface WebhookTarget {
  id: string;
  url: string;
  /** HMAC key shared with the receiver; at least 16 characters. Never logged. */
  secret: string;
}

/** Sends one request; resolves with the HTTP status, rejects on a network error or timeout. */
export type WebhookTransport = (url: string, body: string, headers: Record<string, string>, timeoutMs: number) => Promise<number>;

export interface WebhookDeliveryFailure {
  webhook: string;
  deliveryId: string;
  attempt: number;
  /** Status code or error message; never the secret or the body. */
  reason: string;
  /** True when no further attempt will be made. */
  final: boolean;
}

export interface WebhookNotifierOptions {
  webhooks: WebhookTarget[];
  /** Time stamps, and the retry timers (default systemClock; its timers are unref'd). */
  clock?: Clock;
  transport?: WebhookTransport;
  /** Attempts per delivery, the first included (default 6). */
  maxAttempts?: number;
  /** Delay before the first retry (default 1 s); doubles on each further retry... */
  baseDelayMs?: number;
  /** ...up to this (default 5 min). */
  maxDelayMs?: number;
  timeoutMs?: number;
  /** Deliveries in flight or waiting for a retry, across webhooks (default 1000). */
  maxPending?: number;
  onDeliveryFailed?: (failure: WebhookDeliveryFailure) => void;
  newDeliveryId?: () => string;
}

export interface WebhookStats {
  delivered: number;
  /** Deliveries that exhausted their attempts. */
  failed: number;
  retries: number;
  /** Deliveries dropped because too many were pending. */
  dropped: number;
  pending: number;
}

/** Where the engine sends annunciated state changes. */
export interface AlarmNotifier {
  notify(payload: Record<string, unknown>): void;
}

interface Delivery {
  webhook: WebhookTarget;
  id: string;
  payload: Record<string, unknown>;
  attempt: number;
  timer?: TimerHandle;
  cancelled: boolean;
}

export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export type WebhookVerification = { ok: true } | { ok: false; reason: 'bad_signature' | 'bad_timestamp' | 'stale_timestamp' };

/**
 * What a receiver does: checks the HMAC over the raw body (constant time), that the header
 * timestamp equals the signed one, and that it is within `toleranceMs` of the receiver's clock.
 */
export function verifyWebhookSignature(
  secret: string, rawBody: string, headers: { signature?: string; timestamp?: string }, now: number, toleranceMs = 300_000,
): WebhookVerification {
  const expected = Buffer.from(signWebhookBody(secret, rawBody));
  const given = Buffer.from(headers.signature ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  let signedTs: unknown;
  try {
    signedTs = (JSON.parse(rawBody) as { timestamp?: unknown }).timestamp;
  } catch {
    return { ok: false, reason: 'bad_timestamp' };
  }
  const ts = Number(headers.timestamp);
  if (!Number.isFinite(ts) || signedTs !== ts) return { ok: false, reason: 'bad_timestamp' };
  if (Math.abs(now - ts) > toleranceMs) return { ok: false, reason: 'stale_timestamp' };
  return { ok: true };
}

const fetchTransport: WebhookTransport = async (url, body, headers, timeoutMs) => {
  const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
};

export class WebhookNotifier implements AlarmNotifier {
  private readonly webhooks: WebhookTarget[];
  private readonly clock: Clock;
  private readonly transport: WebhookTransport;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly onDeliveryFailed: (failure: WebhookDeliveryFailure) => void;
  private readonly newDeliveryId: () => string;
  private readonly pending = new Set<Delivery>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stats_: Omit<WebhookStats, 'pending'> = { delivered: 0, failed: 0, retries: 0, dropped: 0 };

  constructor(opts: WebhookNotifierOptions) {
    const ids = new Set<string>();
    for (const w of opts.webhooks) {
      let url: URL;
      try {
        url = new URL(w.url);
      } catch {
        throw new AlarmError('webhook_invalid', `webhook ${w.id}: url is not a valid URL`, { webhook: w.id });
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        throw new AlarmError('webhook_invalid', `webhook ${w.id}: url must be http(s)`, { webhook: w.id });
      }
      if (typeof w.secret !== 'string' || w.secret.length < 16) {
        throw new AlarmError('webhook_invalid', `webhook ${w.id}: secret must be at least 16 characters`, { webhook: w.id });
      }
      if (ids.has(w.id)) throw new AlarmError('webhook_invalid', `webhook id ${w.id} is used twice`, { webhook: w.id });
      ids.add(w.id);
    }
    this.webhooks = [...opts.webhooks];
    this.clock = opts.clock ?? systemClock;
    this.transport = opts.transport ?? fetchTransport;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.baseDelayMs = opts.baseDelayMs ?? 1_000;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxPending = opts.maxPending ?? 1_000;
    this.onDeliveryFailed = opts.onDeliveryFailed ?? (() => undefined);
    this.newDeliveryId = opts.newDeliveryId ?? randomUUID;
  }

  /** Enqueues one delivery per webhook and returns at once. */
  notify(payload: Record<string, unknown>): void {
    for (const webhook of this.webhooks) {
      if (this.pending.size >= this.maxPending) {
        const oldest = this.pending.values().next().value as Delivery;
        this.cancel(oldest);
        this.stats_.dropped++;
      }
      const delivery: Delivery = { webhook, id: this.newDeliveryId(), payload, attempt: 0, cancelled: false };
      this.pending.add(delivery);
      this.attempt(delivery);
    }
  }

  /** Delay before retry number `retry` (1-based): base, 2·base, 4·base, ... capped at maxDelayMs. */
  backoffMs(retry: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (retry - 1));
  }

  stats(): WebhookStats {
    return { ...this.stats_, pending: this.pending.size };
  }

  /** Resolves once no request is in flight (retries waiting on the clock do not count). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops retrying; deliveries still waiting are abandoned. */
  close(): void {
    for (const d of [...this.pending]) this.cancel(d);
  }

  private cancel(d: Delivery): void {
    d.cancelled = true;
    this.clock.clearTimeout(d.timer);
    this.pending.delete(d);
  }

  private attempt(d: Delivery): void {
    d.attempt++;
    d.timer = undefined;
    const timestamp = this.clock.now();
    const body = JSON.stringify({ id: d.id, timestamp, ...d.payload });
    const headers = {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signWebhookBody(d.webhook.secret, body),
      [TIMESTAMP_HEADER]: String(timestamp),
      [DELIVERY_HEADER]: d.id,
    };
    const p = this.transport(d.webhook.url, body, headers, this.timeoutMs).then(
      (status) => (status >= 200 && status < 300 ? null : `HTTP ${status}`),
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    ).then((failure) => this.settle(d, failure));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private settle(d: Delivery, failure: string | null): void {
    if (d.cancelled) return;
    if (failure === null) {
      this.stats_.delivered++;
      this.pending.delete(d);
      return;
    }
    const final = d.attempt >= this.maxAttempts;
    this.onDeliveryFailed({ webhook: d.webhook.id, deliveryId: d.id, attempt: d.attempt, reason: failure, final });
    if (final) {
      this.stats_.failed++;
      this.pending.delete(d);
      return;
    }
    this.stats_.retries++;
    d.timer = this.clock.setTimeout(() => this.attempt(d), this.backoffMs(d.attempt)).unref();
  }
}
