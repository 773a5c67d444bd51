/**
 * The embedded bus: the `Bus` semantics inside one process, for `shellguard demo` and a single
 * server. Messages live in memory only — nothing survives a restart of the process, so a message
 * published but not yet handled when the process stops is gone. Use `JetStreamBus` where that
 * matters or where several processes share the work.
 *
 * Replicas are modelled as handles on one shared log (`connectReplica()`), so the contract suite
 * proves the group semantics — sharing, redelivery to another replica, a replica dying mid-stream
 * (`abort()`) — the same way on both implementations.
 */
import { errorMessage, systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import {
  DEFAULT_ACK_WAIT_MS, DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_MAX_DELIVER, DEFAULT_RETRY_DELAY_MS, DEFAULT_WORK_CONCURRENCY, silentBusLog,
  type Bus, type BusLog, type BusMessage, type BusSubscription, type DeadLetter, type DeadLetterListener, type FanoutHandler,
  type PublishOptions, type PublishReceipt, type WorkHandler, type WorkOptions,
} from './bus.ts';
import { BusError } from './bus-error.ts';
import { assertFilters, nonNegative, positive } from './bus-options.ts';
import { assertGroupName, assertPublishSubject, subjectMatches } from './subjects.ts';

export interface InProcessBusOptions {
  readonly clock?: Clock;
  /** How long an id is remembered for de-duplication (default 2 min, as JetStream). */
  readonly duplicateWindowMs?: number;
  /** How long a message held by a replica that died waits before it is offered again (default 30 s). */
  readonly ackWaitMs?: number;
  /** Default deliveries before dead-lettering (default 5). */
  readonly maxDeliver?: number;
  /** Default wait before a failed message is offered again (default 1 s). */
  readonly retryDelayMs?: number;
  /** Messages kept after every existing group has settled them, for groups that start later (default 10,000). */
  readonly retainMessages?: number;
  readonly onDeadLetter?: DeadLetterListener;
  readonly log?: BusLog;
}

interface Stored {
  readonly seq: number;
  readonly id: string;
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly storedAt: number;
}

interface Worker {
  readonly replica: Replica;
  readonly handler: WorkHandler;
  readonly concurrency: number;
  readonly maxDeliver: number;
  readonly retryDelayMs: number;
  inFlight: number;
  /** Settles when inFlight returns to 0 (for close). */
  idle: (() => void) | undefined;
  stopped: boolean;
}

interface Delivery {
  readonly stored: Stored;
  deliveries: number;
  holder: Worker | undefined;
  readyAt: number;
  timer: TimerHandle | undefined;
}

/** One group's position on one filter: the in-process counterpart of a JetStream durable consumer. */
interface GroupConsumer {
  readonly group: string;
  readonly filter: string;
  readonly ordered: boolean;
  /** Next sequence not yet looked at. */
  cursor: number;
  readonly pending: Map<number, Delivery>;
  workers: Worker[];
  nextWorker: number;
}

interface FanoutTap {
  readonly replica: Replica;
  readonly filters: readonly string[];
  readonly handler: FanoutHandler;
  readonly queue: Stored[];
  running: Promise<void> | undefined;
  stopped: boolean;
}

interface Replica {
  closed: boolean;
  aborted: boolean;
}

class SharedLog {
  readonly clock: Clock;
  readonly duplicateWindowMs: number;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly retryDelayMs: number;
  readonly retainMessages: number;
  readonly onDeadLetter: DeadLetterListener | undefined;
  readonly log: BusLog;
  messages: Stored[] = [];
  firstSeq = 1;
  nextSeq = 1;
  readonly ids = new Map<string, number>();
  readonly consumers = new Map<string, GroupConsumer>();
  readonly taps = new Set<FanoutTap>();
  readonly deadLetters: DeadLetter[] = [];

  constructor(options: InProcessBusOptions) {
    this.clock = options.clock ?? systemClock;
    this.duplicateWindowMs = positive(options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS, 'duplicateWindowMs');
    this.ackWaitMs = positive(options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS, 'ackWaitMs');
    this.maxDeliver = positive(options.maxDeliver ?? DEFAULT_MAX_DELIVER, 'maxDeliver');
    this.retryDelayMs = nonNegative(options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, 'retryDelayMs');
    this.retainMessages = nonNegative(options.retainMessages ?? 10_000, 'retainMessages');
    this.onDeadLetter = options.onDeadLetter;
    this.log = options.log ?? silentBusLog;
  }

  store(subject: string, payload: Uint8Array, id: string): PublishReceipt {
    const now = this.clock.now();
    this.#forgetOldIds(now);
    if (this.ids.has(id)) return { duplicate: true };
    const stored: Stored = { seq: this.nextSeq++, id, subject, payload: payload.slice(), storedAt: now };
    this.messages.push(stored);
    this.ids.set(id, now);
    for (const consumer of this.consumers.values()) this.pump(consumer);
    for (const tap of this.taps) {
      if (tap.filters.some((f) => subjectMatches(f, subject))) {
        tap.queue.push(stored);
        this.#runTap(tap);
      }
    }
    return { duplicate: false };
  }

  consumer(group: string, filter: string, ordered: boolean): GroupConsumer {
    const key = `${group}\u0000${filter}`;
    let consumer = this.consumers.get(key);
    if (!consumer) {
      consumer = { group, filter, ordered, cursor: this.firstSeq, pending: new Map(), workers: [], nextWorker: 0 };
      this.consumers.set(key, consumer);
    }
    return consumer;
  }

  /** Hands out every message that can go now: ready redeliveries first, then new ones, round-robin over workers with room. */
  pump(consumer: GroupConsumer): void {
    for (;;) {
      const worker = this.#workerWithRoom(consumer);
      if (!worker) return;
      const delivery = this.#nextDelivery(consumer);
      if (!delivery) return;
      this.#deliver(consumer, delivery, worker);
    }
  }

  /** A replica died: what it held is offered again once the ack wait has passed, as a JetStream server would. */
  abandon(replica: Replica): void {
    for (const consumer of this.consumers.values()) {
      consumer.workers = consumer.workers.filter((w) => w.replica !== replica);
      for (const delivery of consumer.pending.values()) {
        if (delivery.holder?.replica !== replica) continue;
        delivery.holder = undefined;
        this.#offerAgainAfter(consumer, delivery, this.ackWaitMs);
      }
    }
    for (const tap of this.taps) if (tap.replica === replica) this.stopTap(tap);
  }

  stopTap(tap: FanoutTap): void {
    tap.stopped = true;
    tap.queue.length = 0;
    this.taps.delete(tap);
  }

  #workerWithRoom(consumer: GroupConsumer): Worker | undefined {
    const n = consumer.workers.length;
    for (let i = 0; i < n; i++) {
      const worker = consumer.workers[(consumer.nextWorker + i) % n] as Worker;
      if (!worker.stopped && worker.inFlight < worker.concurrency) {
        consumer.nextWorker = (consumer.nextWorker + i + 1) % n;
        return worker;
      }
    }
    return undefined;
  }

  #nextDelivery(consumer: GroupConsumer): Delivery | undefined {
    const now = this.clock.now();
    let ready: Delivery | undefined;
    for (const delivery of consumer.pending.values()) {
      if (delivery.holder || delivery.readyAt > now) continue;
      if (!ready || delivery.stored.seq < ready.stored.seq) ready = delivery;
    }
    if (ready) return ready;
    // Ordered: one message outstanding (held or waiting to be offered again) per filter.
    if (consumer.ordered && consumer.pending.size > 0) return undefined;
    while (consumer.cursor < this.nextSeq) {
      const stored = this.messages[consumer.cursor - this.firstSeq] as Stored;
      consumer.cursor++;
      if (!subjectMatches(consumer.filter, stored.subject)) continue;
      const delivery: Delivery = { stored, deliveries: 0, holder: undefined, readyAt: now, timer: undefined };
      consumer.pending.set(stored.seq, delivery);
      return delivery;
    }
    return undefined;
  }

  #deliver(consumer: GroupConsumer, delivery: Delivery, worker: Worker): void {
    this.clock.clearTimeout(delivery.timer);
    delivery.timer = undefined;
    delivery.deliveries++;
    delivery.holder = worker;
    worker.inFlight++;
    const message: BusMessage = {
      id: delivery.stored.id, subject: delivery.stored.subject, payload: delivery.stored.payload.slice(),
      deliveryCount: delivery.deliveries, storedAt: delivery.stored.storedAt,
    };
    const attempt = delivery.deliveries > worker.maxDeliver
      // Delivered more often than allowed without an answer (replicas died holding it): a poison
      // message is dead-lettered without being handled again.
      ? Promise.reject(new Error(`delivered ${delivery.deliveries - 1} times without an acknowledgement`))
      : Promise.resolve().then(() => worker.handler(message));
    attempt.then(
      () => this.#settle(consumer, delivery, worker, undefined),
      (err: unknown) => this.#settle(consumer, delivery, worker, err ?? new Error('handler failed')),
    );
  }

  #settle(consumer: GroupConsumer, delivery: Delivery, worker: Worker, failure: unknown): void {
    worker.inFlight--;
    if (worker.inFlight === 0) worker.idle?.();
    // The acknowledgement of a replica that died never arrives.
    if (worker.replica.aborted || delivery.holder !== worker) return;
    delivery.holder = undefined;
    if (failure === undefined) {
      consumer.pending.delete(delivery.stored.seq);
      this.#trim();
    } else if (delivery.deliveries >= worker.maxDeliver) {
      consumer.pending.delete(delivery.stored.seq);
      this.#deadLetter(consumer.group, delivery, errorMessage(failure));
    } else {
      this.log.warn({ group: consumer.group, id: delivery.stored.id, subject: delivery.stored.subject, deliveryCount: delivery.deliveries, err: errorMessage(failure) }, 'bus: handler failed; the message will be offered again');
      this.#offerAgainAfter(consumer, delivery, worker.retryDelayMs);
    }
    this.pump(consumer);
  }

  #offerAgainAfter(consumer: GroupConsumer, delivery: Delivery, ms: number): void {
    delivery.readyAt = this.clock.now() + ms;
    this.clock.clearTimeout(delivery.timer);
    delivery.timer = this.clock.setTimeout(() => {
      delivery.timer = undefined;
      // Ready because its timer ran: Node may run a timer a millisecond before Date.now() says it is due.
      delivery.readyAt = Number.NEGATIVE_INFINITY;
      this.pump(consumer);
    }, ms).unref();
  }

  #deadLetter(group: string, delivery: Delivery, reason: string): void {
    const { stored } = delivery;
    const letter: DeadLetter = {
      group, reason,
      message: { id: stored.id, subject: stored.subject, payload: stored.payload.slice(), deliveryCount: delivery.deliveries, storedAt: stored.storedAt },
    };
    this.deadLetters.push(letter);
    this.log.error({ group, id: stored.id, subject: stored.subject, deliveryCount: delivery.deliveries, reason }, 'bus: message dead-lettered after its last delivery failed');
    try {
      this.onDeadLetter?.(letter);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'bus: dead-letter listener threw');
    }
  }

  #runTap(tap: FanoutTap): void {
    if (tap.running || tap.stopped) return;
    tap.running = (async () => {
      while (tap.queue.length > 0 && !tap.stopped) {
        const stored = tap.queue.shift() as Stored;
        try {
          await tap.handler({ id: stored.id, subject: stored.subject, payload: stored.payload.slice(), deliveryCount: 1, storedAt: stored.storedAt });
        } catch (err) {
          this.log.warn({ id: stored.id, subject: stored.subject, err: errorMessage(err) }, 'bus: fanout handler failed');
        }
      }
      tap.running = undefined;
    })();
  }

  #forgetOldIds(now: number): void {
    for (const [id, at] of this.ids) {
      if (now - at < this.duplicateWindowMs) break;
      this.ids.delete(id);
    }
  }

  /** Drops the oldest messages every group has settled, keeping `retainMessages` for groups that start later. */
  #trim(): void {
    const excess = this.messages.length - this.retainMessages;
    if (excess <= 0 || excess < Math.max(64, this.retainMessages / 4)) return;
    let floor = this.nextSeq;
    for (const consumer of this.consumers.values()) {
      floor = Math.min(floor, consumer.cursor);
      for (const seq of consumer.pending.keys()) floor = Math.min(floor, seq);
    }
    const drop = Math.min(excess, floor - this.firstSeq);
    if (drop <= 0) return;
    this.messages = this.messages.slice(drop);
    this.firstSeq += drop;
  }
}

const JOIN = Symbol('join');

/**
 * The `Bus` in one process (see the file comment for what it does not keep).
 *
 * @example
 * const bus = new InProcessBus();
 * await bus.work('alarms', ['telemetry.>'], async (m) => evaluate(m));
 * await bus.publish('telemetry.site-1.ahu-3', payload, { id: `${deviceId}:${seq}` });
 */
export class InProcessBus implements Bus {
  readonly #shared: SharedLog;
  readonly #replica: Replica = { closed: false, aborted: false };
  readonly #subscriptions = new Set<BusSubscription>();

  constructor(options: InProcessBusOptions & { readonly [JOIN]?: SharedLog } = {}) {
    this.#shared = options[JOIN] ?? new SharedLog(options);
  }

  /** Another replica on the same messages (as a second server process on one JetStream). */
  connectReplica(): InProcessBus {
    return new InProcessBus({ [JOIN]: this.#shared });
  }

  /** Messages dead-lettered so far, across replicas. */
  deadLetters(): readonly DeadLetter[] {
    return [...this.#shared.deadLetters];
  }

  async publish(subject: string, payload: Uint8Array, options: PublishOptions): Promise<PublishReceipt> {
    this.#assertOpen();
    assertPublishSubject(subject);
    if (!options.id) throw new BusError('bus_bad_option', 'a published message needs an id', { subject });
    return this.#shared.store(subject, payload, options.id);
  }

  async work(group: string, subjects: readonly string[], handler: WorkHandler, options: WorkOptions = {}): Promise<BusSubscription> {
    this.#assertOpen();
    assertGroupName(group);
    assertFilters(subjects);
    const ordered = options.ordered ?? false;
    const worker = (): Worker => ({
      replica: this.#replica, handler,
      concurrency: ordered ? 1 : positive(options.concurrency ?? DEFAULT_WORK_CONCURRENCY, 'concurrency'),
      maxDeliver: positive(options.maxDeliver ?? this.#shared.maxDeliver, 'maxDeliver'),
      retryDelayMs: nonNegative(options.retryDelayMs ?? this.#shared.retryDelayMs, 'retryDelayMs'),
      inFlight: 0, idle: undefined, stopped: false,
    });
    const started = subjects.map((filter) => {
      const consumer = this.#shared.consumer(group, filter, ordered);
      const w = worker();
      consumer.workers.push(w);
      return { consumer, worker: w };
    });
    for (const { consumer } of started) this.#shared.pump(consumer);
    const subscription: BusSubscription = {
      close: async () => {
        this.#subscriptions.delete(subscription);
        await Promise.all(started.map(({ consumer, worker: w }) => {
          w.stopped = true;
          consumer.workers = consumer.workers.filter((x) => x !== w);
          return w.inFlight === 0 ? undefined : new Promise<void>((resolve) => { w.idle = resolve; });
        }));
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async fanout(subjects: readonly string[], handler: FanoutHandler): Promise<BusSubscription> {
    this.#assertOpen();
    assertFilters(subjects);
    const tap: FanoutTap = { replica: this.#replica, filters: [...subjects], handler, queue: [], running: undefined, stopped: false };
    this.#shared.taps.add(tap);
    const subscription: BusSubscription = {
      close: async () => {
        this.#subscriptions.delete(subscription);
        const running = tap.running;
        this.#shared.stopTap(tap);
        await running;
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    if (this.#replica.closed) return;
    this.#replica.closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
  }

  /**
   * Stops this replica as a crash would: nothing it is handling is acknowledged, and those
   * messages are offered to the other replicas once the ack wait has passed. For tests and for
   * giving up on a wedged process.
   */
  async abort(): Promise<void> {
    this.#replica.closed = true;
    this.#replica.aborted = true;
    this.#subscriptions.clear();
    this.#shared.abandon(this.#replica);
  }

  #assertOpen(): void {
    if (this.#replica.closed) throw new BusError('bus_closed', 'the bus is closed');
  }
}
