/**
 * Delivers what the outbox committed: per endpoint, one delivery in flight at a time and in
 * enqueue order, retried with exponential backoff and jitter, dead-lettered after `maxAttempts`
 * or at once when the receiver refuses the request itself (retry-policy.ts).
 *
 * At least once, never silently lost: a delivery leaves the queue only when the store records a
 * 2xx or a dead letter, so whatever was pending when the process stopped or was killed (even
 * between the receiver's 2xx and our mark) is sent again after a restart with the same
 * `Idempotency-Key` and `x-shellguard-delivery`, for the receiver to drop as a repeat.
 *
 * Several dispatchers on one database (server replicas on one PostgreSQL): before sending, a
 * dispatcher claims the endpoint's head (`OutboxStore.claim`, an atomic lease); one that finds the
 * head claimed by another waits for it rather than skipping ahead, so each endpoint still gets one
 * delivery at a time, in order, and no delivery is sent by two dispatchers at once. A dispatcher
 * that dies mid-send holds its endpoint up for one lease (`claimLeaseMs`); a restarted server with
 * the same `claimant` takes its claims back at once.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage, systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { WebhookDeliveryFailure } from '../alarms/webhook-notifier.ts';
import { readEndpointCa, httpWebhookTransport, type OutboxTransport } from './http-webhook-transport.ts';
import type { NotificationEndpoint } from './notification-endpoint.ts';
import { NotificationError } from './notification-error.ts';
import type { OutboxStore, OutboxWriter, PendingDelivery } from './outbox.ts';
import { parseRetryAfter, retryDelayMs, verdictOf, type BackoffPolicy } from './retry-policy.ts';
import { deliveryIdOf, signedDeliveryHeaders } from './signed-delivery.ts';
import { renderWebhookBody } from './webhook-formats.ts';

/** The alarm webhooks' failure report (`webhook` = endpoint id), plus what names the entry. */
export interface OutboxDeliveryFailure extends WebhookDeliveryFailure {
  idempotencyKey: string;
  topic: string;
  status?: number;
  /** When the next attempt is due; absent when `final` (dead-lettered). */
  nextAttemptAt?: number;
}

export interface OutboxDelivered {
  webhook: string;
  deliveryId: string;
  idempotencyKey: string;
  topic: string;
  attempt: number;
  status: number;
}

export interface OutboxDispatcherOptions {
  store: OutboxStore;
  endpoints: readonly NotificationEndpoint[];
  /** Time, and the wake-up timers (default systemClock; its timers are unref'd). */
  clock?: Clock;
  transport?: OutboxTransport;
  /** [0, 1), for the jitter (default Math.random). */
  random?: () => number;
  /** Attempts per delivery, the first included (default 12). */
  maxAttempts?: number;
  /** Delay before the first retry (default 1 s), doubling per retry... */
  baseDelayMs?: number;
  /** ...up to this (default 10 min). */
  maxDelayMs?: number;
  /** Per request, until the response headers (default 10 s). */
  timeoutMs?: number;
  /** How often an idle endpoint looks for entries no `kick` announced (default 30 s). */
  pollIntervalMs?: number;
  /**
   * Names this dispatcher's claims on deliveries: stable per server, unique among the replicas
   * sharing the database (default: host name, process id and a random part — unique, not stable).
   */
  claimant?: string;
  /** How long a claim holds a delivery for this dispatcher (default 3 × timeoutMs, at least 30 s). */
  claimLeaseMs?: number;
  onDelivered?: (delivered: OutboxDelivered) => void;
  onDeliveryFailed?: (failure: OutboxDeliveryFailure) => void;
  /** The store could not be read or written; the endpoint tries again after a backoff. */
  onStoreError?: (err: unknown, endpointId: string) => void;
}

/** One endpoint's queue as the dispatcher works it. */
interface Lane {
  endpoint: NotificationEndpoint;
  ca: string | undefined;
  running?: Promise<void>;
  /** A wake-up arrived while running: look at the queue once more before sleeping. */
  again: boolean;
  timer?: TimerHandle;
  storeErrors: number;
}

type Outcome =
  | { verdict: 'delivered'; status: number }
  | { verdict: 'retry' | 'reject'; reason: string; status?: number; retryAfterMs?: number };

export class OutboxDispatcher {
  private readonly store: OutboxStore;
  private readonly lanes: Lane[];
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly transport: OutboxTransport;
  private readonly backoff: BackoffPolicy;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly claimant: string;
  private readonly claimLeaseMs: number;
  private readonly onDelivered: (delivered: OutboxDelivered) => void;
  private readonly onDeliveryFailed: (failure: OutboxDeliveryFailure) => void;
  private readonly onStoreError: (err: unknown, endpointId: string) => void;
  private started = false;
  private stopped = false;

  constructor(opts: OutboxDispatcherOptions) {
    this.store = opts.store;
    // A missing caFile stops the start here, naming the file.
    this.lanes = opts.endpoints.map((endpoint) => ({ endpoint, ca: readEndpointCa(endpoint), again: false, storeErrors: 0 }));
    this.clock = opts.clock ?? systemClock;
    this.now = () => this.clock.now();
    this.transport = opts.transport ?? httpWebhookTransport;
    this.backoff = { baseDelayMs: opts.baseDelayMs ?? 1_000, maxDelayMs: opts.maxDelayMs ?? 600_000, random: opts.random ?? Math.random };
    this.maxAttempts = Math.max(1, Math.trunc(opts.maxAttempts ?? 12));
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 30_000;
    this.claimant = opts.claimant ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    // Longer than any send (its timeout), so a claim never ends while its request is in flight.
    this.claimLeaseMs = Math.max(1, opts.claimLeaseMs ?? Math.max(30_000, 3 * this.timeoutMs));
    this.onDelivered = opts.onDelivered ?? (() => undefined);
    this.onDeliveryFailed = opts.onDeliveryFailed ?? (() => undefined);
    this.onStoreError = opts.onStoreError ?? (() => undefined);
  }

  /** Starts working every endpoint's queue, beginning with what was pending before a restart. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const lane of this.lanes) this.wake(lane);
  }

  /**
   * Deliver now: call it after committing a transaction that enqueued (the store shows the
   * dispatcher only what committed). A head waiting out its backoff keeps waiting: the new
   * entries queue behind it.
   */
  kick(): void {
    for (const lane of this.lanes) this.wake(lane);
  }

  /** Puts a dead-lettered delivery back in its queue (after the receiver was fixed) and sends it. */
  async redrive(deliveryId: number): Promise<boolean> {
    const redriven = await this.store.redrive(deliveryId, this.now());
    if (redriven) this.kick();
    return redriven;
  }

  /** Resolves once no endpoint is sending or reading its queue (timers waiting do not count). */
  async idle(): Promise<void> {
    while (this.lanes.some((l) => l.running)) await Promise.allSettled(this.lanes.map((l) => l.running));
  }

  /** Stops scheduling; requests in flight finish and are recorded (the store must stay open until this resolves). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const lane of this.lanes) this.clearTimer(lane);
    await this.idle();
  }

  private wake(lane: Lane): void {
    if (!this.started || this.stopped) return;
    if (lane.running) {
      lane.again = true;
      return;
    }
    this.clearTimer(lane);
    lane.running = this.drain(lane).finally(() => {
      lane.running = undefined;
      if (lane.again) this.wake(lane);
    });
  }

  private async drain(lane: Lane): Promise<void> {
    let sleepMs: number;
    try {
      do {
        lane.again = false;
        sleepMs = await this.deliverDue(lane);
      } while (lane.again && !this.stopped);
      lane.storeErrors = 0;
    } catch (err) {
      lane.again = false;
      lane.storeErrors++;
      this.onStoreError(err, lane.endpoint.id);
      sleepMs = retryDelayMs(this.backoff, lane.storeErrors);
    }
    if (!this.stopped) lane.timer = this.clock.setTimeout(() => this.wake(lane), sleepMs).unref();
  }

  /** Sends the endpoint's due deliveries in order; returns how long to sleep before looking again. */
  private async deliverDue(lane: Lane): Promise<number> {
    for (;;) {
      if (this.stopped) return 0;
      const head = await this.store.headOf(lane.endpoint.id);
      if (this.stopped) return 0;
      if (head === undefined) return this.pollIntervalMs;
      const wait = head.nextAttemptAt - this.now();
      // No retry is ever set further ahead than maxDelayMs: a longer wait means the clock was set
      // back since, and honouring it would hold the endpoint's queue for as long as the step.
      if (wait > 0 && wait <= this.backoff.maxDelayMs) return wait;
      if (!(await this.store.claim(head.id, { claimant: this.claimant, at: this.now(), leaseMs: this.claimLeaseMs }))) {
        // Another dispatcher holds the head (or it moved on meanwhile): never skip ahead of it.
        const current = await this.store.headOf(lane.endpoint.id);
        if (current?.id !== head.id) continue;
        return Math.max(1, Math.min(this.pollIntervalMs, (current.claimedUntil ?? this.now()) - this.now()));
      }
      await this.attempt(lane, head);
    }
  }

  private async attempt(lane: Lane, d: PendingDelivery): Promise<void> {
    const { endpoint } = lane;
    const attempt = d.attempts + 1;
    const deliveryId = deliveryIdOf(endpoint.id, d.idempotencyKey);
    const outcome = await this.send(lane, d, deliveryId);
    const at = this.now();
    const names = { webhook: endpoint.id, deliveryId, idempotencyKey: d.idempotencyKey, topic: d.topic, attempt };
    if (outcome.verdict === 'delivered') {
      await this.store.markDelivered(d.id, { at, status: outcome.status, claimant: this.claimant });
      this.onDelivered({ ...names, status: outcome.status });
      return;
    }
    const status = outcome.status !== undefined ? { status: outcome.status } : {};
    if (outcome.verdict === 'reject' || attempt >= this.maxAttempts) {
      await this.store.markDeadLettered(d.id, { at, reason: outcome.reason, ...status, claimant: this.claimant });
      this.onDeliveryFailed({ ...names, reason: outcome.reason, ...status, final: true });
      return;
    }
    const nextAttemptAt = at + retryDelayMs(this.backoff, attempt, outcome.retryAfterMs);
    await this.store.markFailed(d.id, { at, reason: outcome.reason, ...status, nextAttemptAt, claimant: this.claimant });
    this.onDeliveryFailed({ ...names, reason: outcome.reason, ...status, final: false, nextAttemptAt });
  }

  private async send(lane: Lane, d: PendingDelivery, deliveryId: string): Promise<Outcome> {
    const sentAt = this.now();
    let body: string;
    try {
      body = renderWebhookBody(lane.endpoint, d, sentAt);
    } catch (err) {
      // The stored payload will never take this format: retrying cannot help.
      if (err instanceof NotificationError) return { verdict: 'reject', reason: err.message };
      throw err;
    }
    const headers = signedDeliveryHeaders({ secret: lane.endpoint.secret, body, sentAt, deliveryId, idempotencyKey: d.idempotencyKey });
    try {
      const res = await this.transport({ url: lane.endpoint.url, body, headers, timeoutMs: this.timeoutMs, ...(lane.ca !== undefined ? { ca: lane.ca } : {}) });
      const verdict = verdictOf(res.status);
      if (verdict === 'delivered') return { verdict, status: res.status };
      if (verdict === 'reject') return { verdict, status: res.status, reason: `HTTP ${res.status}: refused by the receiver, not retried` };
      const retryAfterMs = parseRetryAfter(res.retryAfter, this.now());
      return { verdict, status: res.status, reason: `HTTP ${res.status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    } catch (err) {
      return { verdict: 'retry', reason: errorMessage(err) };
    }
  }

  private clearTimer(lane: Lane): void {
    this.clock.clearTimeout(lane.timer);
    lane.timer = undefined;
  }
}

/**
 * A writer that kicks the dispatcher after each entry it adds, so delivery starts right after the
 * commit without every domain knowing about the dispatcher. The kick comes a microtask after the
 * enqueue: when `writer` writes in its own transaction that is after the commit; inside a caller's
 * transaction the dispatcher reads only once it committed (SQLite waits for it; on PostgreSQL a
 * read before the commit finds nothing and the poll, or the next kick, delivers it).
 */
export function kickingWriter(writer: OutboxWriter, dispatcher: Pick<OutboxDispatcher, 'kick'>): OutboxWriter {
  return {
    async enqueue(entry) {
      const added = await writer.enqueue(entry);
      if (added) queueMicrotask(() => dispatcher.kick());
      return added;
    },
  };
}
