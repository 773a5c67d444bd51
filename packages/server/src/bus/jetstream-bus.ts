/**
 * The `Bus` on NATS JetStream (ARCHITECTURE.md §5): several server replicas share the work.
 *
 * - Messages are stored in file-backed streams with limits retention (default 7 days); a publish
 *   resolves on the server's PubAck, and `Nats-Msg-Id` de-duplicates within the stream's
 *   duplicate window (default 2 min).
 * - `work` is one durable pull consumer per (group, filter), shared by every replica of the group.
 *   A replica pulls only as many messages as it has free handler slots, tells the server it is
 *   still working on each (`+WPI`) while the handler runs, and acknowledges after the handler
 *   resolves. A replica that dies stops telling, and the server redelivers after `ackWaitMs`.
 *   Redelivery is bounded here, not by the server (`max_deliver` -1): after `maxDeliver` failed
 *   deliveries the message is copied to the dead-letter stream and terminated; if that copy fails
 *   the message is offered again, so it is never dropped silently.
 * - `fanout` is an ordered consumer per filter from the stream's next sequence.
 *
 * Limits (nats-server 2.9): a consumer has one filter subject, so `work`/`fanout` create one
 * consumer per filter; there are no subject transforms.  The file store syncs to disk every two
 * minutes by default: a killed nats-server process loses nothing, a machine that loses power can
 * lose what was not yet synced (run JetStream replicated, or set `sync_interval`, on 2.10+).
 */
import { createHash } from 'node:crypto';
import { headers as natsHeaders, nanos, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiError, ReplayPolicy, RetentionPolicy, StorageType, jetstreamManager,
  type ConsumerConfig, type JetStreamClient, type JetStreamManager, type JsMsg, type StreamConfig, type StreamSource,
} from '@nats-io/jetstream';
import { errorMessage, systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import {
  DEFAULT_ACK_WAIT_MS, DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_MAX_DELIVER, DEFAULT_RETRY_DELAY_MS, DEFAULT_WORK_CONCURRENCY, silentBusLog,
  type Bus, type BusLog, type BusMessage, type BusSubscription, type DeadLetter, type DeadLetterListener, type FanoutHandler,
  type PublishOptions, type PublishReceipt, type WorkHandler, type WorkOptions,
} from './bus.ts';
import { BusError } from './bus-error.ts';
import { assertFilters, nonNegative, positive } from './bus-options.ts';
import { assertDisjointFilters, assertGroupName, assertPublishSubject, assertSubjectFilter, filterCovers, filtersOverlap } from './subjects.ts';

/** A stream another stream copies from: a stream in this JetStream domain, or (federation) in another one. */
export interface JetStreamStreamSource {
  readonly stream: string;
  /** The JetStream domain holding it (reached over a leaf node connection); omit for the local domain. */
  readonly domain?: string;
  readonly filterSubject?: string;
}

export interface JetStreamBusStream {
  readonly name: string;
  /**
   * The subjects this stream holds. A stream without `sources` listens on them; a stream fed by
   * `sources` listens on none, and these only say which `work`/`fanout` filters it serves.
   */
  readonly subjects: readonly string[];
  readonly sources?: readonly JetStreamStreamSource[];
  /** How long messages are kept (default 7 days). A consumer further behind than this loses them. */
  readonly maxAgeMs?: number;
  /** Size limit; the oldest messages go first beyond it (default none). */
  readonly maxBytes?: number;
  readonly duplicateWindowMs?: number;
}

export interface JetStreamDeadLetters {
  readonly stream: string;
  /** Dead letters of group G are stored on `<subjectPrefix>.G`. */
  readonly subjectPrefix: string;
}

export interface JetStreamBusOptions {
  readonly servers: string | readonly string[];
  /** Shown in the server's connection list. */
  readonly connectionName?: string;
  /** The JetStream domain to talk to, when it is not the one of the server connected to. */
  readonly domain?: string;
  /**
   * Scopes message ids: they are stored as `<idScope>:<id>` and read back without the scope here,
   * while a bus that sees them elsewhere (the centre, through federation) sees the scoped id. Sites
   * set it to their id, so ids need only be unique per site.
   */
  readonly idScope?: string;
  /** The streams the bus creates (or updates) on connect. Their subjects must not overlap. */
  readonly streams: readonly JetStreamBusStream[];
  readonly deadLetters?: JetStreamDeadLetters;
  /** Without a sign of life from the replica holding a message for this long, the server redelivers it (default 30 s). */
  readonly ackWaitMs?: number;
  readonly maxDeliver?: number;
  readonly retryDelayMs?: number;
  /** How long one pull waits for messages (default 2 s); `close` waits at most this for a pull under way. */
  readonly pullExpiresMs?: number;
  /** How long a publish waits for the server's acknowledgement (default 5 s). */
  readonly publishTimeoutMs?: number;
  readonly onDeadLetter?: DeadLetterListener;
  readonly log?: BusLog;
  readonly clock?: Clock;
}

export const DEFAULT_DEAD_LETTERS: JetStreamDeadLetters = { stream: 'SG_DEAD_LETTERS', subjectPrefix: 'sg-dead-letter' };
const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600_000;
const DEAD_LETTER_MAX_AGE_MS = 30 * 24 * 3600_000;
/** Messages a group may have outstanding across its replicas when not ordered. */
const UNORDERED_MAX_ACK_PENDING = 10_000;
/** JetStream API error: stream name already in use (with another configuration). */
const STREAM_NAME_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

/** A dead letter as stored in the dead-letter stream. */
export interface StoredDeadLetter extends DeadLetter {
  readonly sequence: number;
}

/** The JetStream stream configuration for one of the bus's streams. */
export function jetStreamConfigOf(spec: JetStreamBusStream): Partial<StreamConfig> & { name: string } {
  const maxAgeMs = spec.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const duplicateWindowMs = Math.min(spec.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS, maxAgeMs);
  const config: Partial<StreamConfig> & { name: string } = {
    name: spec.name,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAgeMs),
    max_bytes: spec.maxBytes ?? -1,
    duplicate_window: nanos(duplicateWindowMs),
    num_replicas: 1,
  };
  if (spec.sources && spec.sources.length > 0) config.sources = spec.sources.map(sourceConfigOf);
  else config.subjects = [...spec.subjects];
  return config;
}

function sourceConfigOf(source: JetStreamStreamSource): StreamSource {
  const config: StreamSource = { name: source.stream };
  if (source.filterSubject) config.filter_subject = source.filterSubject;
  // The hub reaches the site's JetStream through the site's domain prefix over the leaf node link.
  if (source.domain) config.external = { api: `$JS.${source.domain}.API`, deliver: '' };
  return config;
}

interface Pull {
  readonly group: string;
  readonly stream: string;
  readonly consumer: string;
  readonly handler: WorkHandler;
  readonly concurrency: number;
  readonly maxDeliver: number;
  readonly retryDelayMs: number;
  inFlight: number;
  readonly settled: Set<Promise<void>>;
  wake: (() => void) | undefined;
  stopped: boolean;
  loop: Promise<void> | undefined;
}

/**
 * The `Bus` on JetStream. Create it with {@link JetStreamBus.connect}.
 *
 * @example
 * const bus = await JetStreamBus.connect({ servers: 'nats://127.0.0.1:4222', streams: [{ name: 'SG_BUS', subjects: ['sg.>'] }] });
 * await bus.work('alarms', ['sg.telemetry.>'], evaluate);
 */
export class JetStreamBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #streams: readonly JetStreamBusStream[];
  readonly #idScope: string;
  readonly #deadLetters: JetStreamDeadLetters;
  readonly #ackWaitMs: number;
  readonly #maxDeliver: number;
  readonly #retryDelayMs: number;
  readonly #pullExpiresMs: number;
  readonly #publishTimeoutMs: number;
  readonly #onDeadLetter: DeadLetterListener | undefined;
  readonly #log: BusLog;
  readonly #clock: Clock;
  readonly #subscriptions = new Set<BusSubscription>();
  #closed = false;
  #aborted = false;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, options: JetStreamBusOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jsm.jetstream();
    this.#streams = options.streams;
    this.#idScope = options.idScope ? `${options.idScope}:` : '';
    this.#deadLetters = options.deadLetters ?? DEFAULT_DEAD_LETTERS;
    this.#ackWaitMs = positive(options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS, 'ackWaitMs');
    this.#maxDeliver = positive(options.maxDeliver ?? DEFAULT_MAX_DELIVER, 'maxDeliver');
    this.#retryDelayMs = nonNegative(options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, 'retryDelayMs');
    this.#pullExpiresMs = Math.max(1_000, options.pullExpiresMs ?? 2_000);
    this.#publishTimeoutMs = positive(options.publishTimeoutMs ?? 5_000, 'publishTimeoutMs');
    this.#onDeadLetter = options.onDeadLetter;
    this.#log = options.log ?? silentBusLog;
    this.#clock = options.clock ?? systemClock;
  }

  /** Connects, and creates or updates the bus's streams and its dead-letter stream. */
  static async connect(options: JetStreamBusOptions): Promise<JetStreamBus> {
    validateStreams(options.streams, options.deadLetters ?? DEFAULT_DEAD_LETTERS);
    if (options.idScope !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(options.idScope)) {
      throw new BusError('bus_bad_option', `"${options.idScope}" is not an id scope: use letters, digits, "_" or "-"`, { idScope: options.idScope });
    }
    const nc = await connect({
      servers: typeof options.servers === 'string' ? options.servers : [...options.servers],
      name: options.connectionName ?? 'shellguard-bus',
      // A replica rides out a restart of nats-server rather than giving up after a few tries.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    try {
      const jsm = await jetstreamManager(nc, options.domain ? { domain: options.domain } : {});
      const bus = new JetStreamBus(nc, jsm, options);
      for (const stream of options.streams) await bus.#ensureStream(stream);
      const dead = bus.#deadLetters;
      await bus.#ensureStream({ name: dead.stream, subjects: [`${dead.subjectPrefix}.>`], maxAgeMs: DEAD_LETTER_MAX_AGE_MS });
      bus.#watchConnection();
      return bus;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  async publish(subject: string, payload: Uint8Array, options: PublishOptions): Promise<PublishReceipt> {
    this.#assertOpen();
    assertPublishSubject(subject);
    if (!options.id) throw new BusError('bus_bad_option', 'a published message needs an id', { subject });
    if (!this.#streams.some((s) => !s.sources?.length && s.subjects.some((f) => filterCovers(f, subject)))) {
      throw new BusError('bus_subject_unrouted', `no stream of the bus holds "${subject}": add it to a stream's subjects`, { subject });
    }
    try {
      const ack = await this.#js.publish(subject, payload, { msgID: this.#idScope + options.id, timeout: this.#publishTimeoutMs });
      return { duplicate: ack.duplicate };
    } catch (err) {
      throw new BusError('bus_publish_failed', `publishing ${options.id} on ${subject} was not confirmed (${errorMessage(err)}); publish it again with the same id`, { subject, id: options.id });
    }
  }

  async work(group: string, subjects: readonly string[], handler: WorkHandler, options: WorkOptions = {}): Promise<BusSubscription> {
    this.#assertOpen();
    assertGroupName(group);
    assertFilters(subjects);
    const ordered = options.ordered ?? false;
    const pulls: Pull[] = [];
    for (const filter of subjects) {
      const stream = this.#streamFor(filter);
      const consumer = await this.#ensureConsumer(stream, group, filter, ordered);
      pulls.push({
        group, stream, consumer, handler,
        concurrency: ordered ? 1 : positive(options.concurrency ?? DEFAULT_WORK_CONCURRENCY, 'concurrency'),
        maxDeliver: positive(options.maxDeliver ?? this.#maxDeliver, 'maxDeliver'),
        retryDelayMs: nonNegative(options.retryDelayMs ?? this.#retryDelayMs, 'retryDelayMs'),
        inFlight: 0, settled: new Set(), wake: undefined, stopped: false, loop: undefined,
      });
    }
    for (const pull of pulls) pull.loop = this.#pullLoop(pull);
    const subscription: BusSubscription = {
      close: async () => {
        this.#subscriptions.delete(subscription);
        for (const pull of pulls) {
          pull.stopped = true;
          pull.wake?.();
        }
        await Promise.all(pulls.map(async (pull) => {
          await pull.loop;
          await Promise.all([...pull.settled]);
        }));
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async fanout(subjects: readonly string[], handler: FanoutHandler): Promise<BusSubscription> {
    this.#assertOpen();
    assertFilters(subjects);
    const readers = await Promise.all(subjects.map(async (filter) => {
      const stream = this.#streamFor(filter);
      // From the stream's next sequence, not DeliverPolicy.New: when the client recreates an
      // ordered consumer (after a server restart) it resumes from the last message it saw, and
      // with New and nothing seen yet that would be the start of the stream.
      const info = await this.#jsm.streams.info(stream);
      const consumer = await this.#js.consumers.get(stream, {
        filter_subjects: filter, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.state.last_seq + 1,
      });
      const messages = await consumer.consume({ max_messages: 256 });
      const done = (async () => {
        for await (const m of messages) {
          try {
            await handler(this.#toBusMessage(m));
          } catch (err) {
            this.#log.warn({ subject: m.subject, err: errorMessage(err) }, 'bus: fanout handler failed');
          }
        }
      })().catch((err: unknown) => {
        if (!this.#closed) this.#log.error({ filter, err: errorMessage(err) }, 'bus: fanout stopped');
      });
      return { messages, done };
    }));
    const subscription: BusSubscription = {
      close: async () => {
        this.#subscriptions.delete(subscription);
        await Promise.all(readers.map(async ({ messages, done }) => {
          await messages.close().catch(() => undefined);
          await done;
        }));
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    // Drain flushes the acknowledgements still in the outgoing buffer before disconnecting.
    await this.#nc.drain().catch(() => undefined);
  }

  /**
   * Drops the connection as a crash would: nothing being handled is acknowledged, and the server
   * redelivers it to the other replicas once `ackWaitMs` has passed. For tests and for giving up
   * on a wedged process.
   */
  async abort(): Promise<void> {
    this.#closed = true;
    this.#aborted = true;
    for (const s of this.#subscriptions) void s.close().catch(() => undefined);
    this.#subscriptions.clear();
    await this.#nc.close().catch(() => undefined);
  }

  /** The dead letters stored so far (oldest first, at most `limit`), optionally of one group. */
  async listDeadLetters(group?: string, limit = 1_000): Promise<StoredDeadLetter[]> {
    const info = await this.#jsm.streams.info(this.#deadLetters.stream);
    const out: StoredDeadLetter[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && out.length < limit; seq++) {
      const m = await this.#jsm.streams.getMessage(this.#deadLetters.stream, { seq }).catch(() => null);
      if (!m) continue;
      const letterGroup = m.subject.slice(this.#deadLetters.subjectPrefix.length + 1);
      if (group !== undefined && letterGroup !== group) continue;
      out.push({
        sequence: m.seq, group: letterGroup, reason: m.header.get('Sg-Dead-Letter-Reason'),
        message: {
          id: m.header.get('Sg-Dead-Letter-Id'), subject: m.header.get('Sg-Dead-Letter-Subject'), payload: m.data,
          deliveryCount: Number(m.header.get('Sg-Dead-Letter-Deliveries')), storedAt: m.time.getTime(),
        },
      });
    }
    return out;
  }

  async #pullLoop(pull: Pull): Promise<void> {
    let consumer;
    while (!pull.stopped) {
      const free = pull.concurrency - pull.inFlight;
      // Pull when half the slots are free (or all, for small pools), so pulls are batched.
      if (free < Math.max(1, Math.floor(pull.concurrency / 2))) {
        await new Promise<void>((resolve) => { pull.wake = resolve; });
        pull.wake = undefined;
        continue;
      }
      try {
        consumer ??= await this.#js.consumers.get(pull.stream, pull.consumer);
        const batch = await consumer.fetch({ max_messages: free, expires: this.#pullExpiresMs });
        for await (const m of batch) {
          // Pulled while closing: give it straight back rather than let it wait out the ack wait.
          if (pull.stopped) nakQuietly(m);
          else this.#start(pull, m);
        }
      } catch (err) {
        if (pull.stopped || this.#closed) break;
        if (err instanceof JetStreamApiError && err.code === CONSUMER_NOT_FOUND) consumer = undefined;
        this.#log.warn({ group: pull.group, consumer: pull.consumer, err: errorMessage(err) }, 'bus: pull failed; retrying');
        await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, Math.max(250, Math.min(pull.retryDelayMs, 2_000))).unref());
      }
    }
  }

  #start(pull: Pull, m: JsMsg): void {
    pull.inFlight++;
    // While the handler runs, tell the server this replica is alive and still on it, so only a
    // dead or disconnected replica's messages are redelivered.
    const heartbeat: TimerHandle = this.#clock.setInterval(() => {
      try {
        m.working();
      } catch {
        // The connection is gone; the server will redeliver.
      }
    }, Math.max(100, Math.floor(this.#ackWaitMs / 3))).unref();
    const message = this.#toBusMessage(m);
    const run = message.deliveryCount > pull.maxDeliver
      // Delivered more often than allowed without an answer (replicas died holding it): a poison
      // message is dead-lettered without being handled again.
      ? Promise.reject(new Error(`delivered ${message.deliveryCount - 1} times without an acknowledgement`))
      : Promise.resolve().then(() => pull.handler(message));
    const settled: Promise<void> = run.then(
      () => {
        if (!this.#aborted) ackQuietly(m);
      },
      (err: unknown) => this.#failed(pull, m, message, errorMessage(err ?? 'handler failed')),
    ).finally(() => {
      this.#clock.clearInterval(heartbeat);
      pull.inFlight--;
      pull.settled.delete(settled);
      pull.wake?.();
    });
    pull.settled.add(settled);
  }

  async #failed(pull: Pull, m: JsMsg, message: BusMessage, reason: string): Promise<void> {
    if (this.#aborted) return;
    if (message.deliveryCount < pull.maxDeliver) {
      this.#log.warn({ group: pull.group, id: message.id, subject: message.subject, deliveryCount: message.deliveryCount, err: reason }, 'bus: handler failed; the message will be offered again');
      nakQuietly(m, pull.retryDelayMs);
      return;
    }
    const letter: DeadLetter = { group: pull.group, message, reason };
    try {
      const h = natsHeaders();
      h.set('Sg-Dead-Letter-Subject', message.subject);
      h.set('Sg-Dead-Letter-Id', message.id);
      h.set('Sg-Dead-Letter-Deliveries', String(message.deliveryCount));
      h.set('Sg-Dead-Letter-Reason', reason.replace(/[\r\n]+/g, ' ').slice(0, 1_000));
      await this.#js.publish(`${this.#deadLetters.subjectPrefix}.${pull.group}`, message.payload, {
        msgID: `${pull.group}:${message.id}`, headers: h, timeout: this.#publishTimeoutMs,
      });
    } catch (err) {
      // Not recorded, so not given up on: it comes back and the dead-lettering is tried again.
      this.#log.error({ group: pull.group, id: message.id, err: errorMessage(err) }, 'bus: could not store a dead letter; the message will be offered again');
      nakQuietly(m, pull.retryDelayMs);
      return;
    }
    // Terminated only once its copy is stored.
    try {
      m.term();
    } catch {
      // Redelivered, and then de-duplicated in the dead-letter stream by its id.
    }
    this.#log.error({ group: pull.group, id: message.id, subject: message.subject, deliveryCount: message.deliveryCount, reason }, 'bus: message dead-lettered after its last delivery failed');
    try {
      this.#onDeadLetter?.(letter);
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'bus: dead-letter listener threw');
    }
  }

  async #ensureStream(spec: JetStreamBusStream): Promise<void> {
    const want = jetStreamConfigOf(spec);
    for (let attempt = 0; attempt < 5; attempt++) {
      const info = await this.#jsm.streams.info(spec.name).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND) return undefined;
        throw err;
      });
      if (!info) {
        try {
          await this.#jsm.streams.add(want);
          return;
        } catch (err) {
          // Another replica created it first: look again.
          if (err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE) continue;
          throw err;
        }
      }
      if (!sameStreamConfig(info.config, want)) {
        const { name: _name, storage: _storage, retention: _retention, num_replicas: _replicas, ...changes } = want;
        await this.#jsm.streams.update(spec.name, { ...info.config, ...changes });
      }
      return;
    }
  }

  async #ensureConsumer(stream: string, group: string, filter: string, ordered: boolean): Promise<string> {
    // One durable per (group, filter): nats-server 2.9 consumers take a single filter subject.
    const name = `${group}_${createHash('sha256').update(filter).digest('hex').slice(0, 12)}`;
    const config: Partial<ConsumerConfig> = {
      durable_name: name,
      description: `${group} on ${filter}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      filter_subject: filter,
      ack_wait: nanos(this.#ackWaitMs),
      max_deliver: -1,
      max_ack_pending: ordered ? 1 : UNORDERED_MAX_ACK_PENDING,
    };
    const existing = await this.#jsm.consumers.info(stream, name).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === CONSUMER_NOT_FOUND) return undefined;
      throw err;
    });
    if (!existing) await this.#jsm.consumers.add(stream, config);
    else if (existing.config.max_ack_pending !== config.max_ack_pending || existing.config.ack_wait !== config.ack_wait) {
      await this.#jsm.consumers.update(stream, name, { max_ack_pending: config.max_ack_pending, ack_wait: config.ack_wait });
    }
    return name;
  }

  /** The one stream holding messages the filter matches (a consumer lives on one stream). */
  #streamFor(filter: string): string {
    const holders = this.#streams.filter((s) => s.subjects.some((f) => filtersOverlap(f, filter)));
    if (holders.length === 1) return (holders[0] as JetStreamBusStream).name;
    if (holders.length > 1) {
      throw new BusError('bus_subject_spans_streams', `"${filter}" matches subjects of streams ${holders.map((s) => s.name).join(', ')}: give one filter per stream`, { subject: filter });
    }
    throw new BusError('bus_subject_unrouted', `no stream of the bus holds "${filter}"`, { subject: filter });
  }

  #watchConnection(): void {
    void (async () => {
      for await (const status of this.#nc.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect') this.#log.warn({ status: status.type, server: status.server }, 'bus: NATS connection changed');
      }
    })().catch(() => undefined);
  }

  #toBusMessage(m: JsMsg): BusMessage {
    const stored = m.headers?.get('Nats-Msg-Id');
    return {
      // A message published without an id (by another client) is known by its place in the stream.
      id: !stored ? `${m.info.stream}:${m.seq}` : this.#idScope && stored.startsWith(this.#idScope) ? stored.slice(this.#idScope.length) : stored,
      subject: m.subject,
      payload: m.data,
      deliveryCount: m.info.deliveryCount,
      storedAt: m.time.getTime(),
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new BusError('bus_closed', 'the bus is closed');
  }
}

function ackQuietly(m: JsMsg): void {
  try {
    m.ack();
  } catch {
    // The connection is gone: the server redelivers, and the consumer's idempotence absorbs it.
  }
}

function nakQuietly(m: JsMsg, delayMs?: number): void {
  try {
    m.nak(delayMs);
  } catch {
    // The connection is gone: the server redelivers after the ack wait.
  }
}

function sameStreamConfig(have: StreamConfig, want: Partial<StreamConfig>): boolean {
  const sources = (c: Partial<StreamConfig>): string => JSON.stringify((c.sources ?? []).map((s) => [s.name, s.filter_subject ?? '', s.external?.api ?? '']).sort());
  return JSON.stringify([...(have.subjects ?? [])].sort()) === JSON.stringify([...(want.subjects ?? [])].sort())
    && sources(have) === sources(want)
    && have.max_age === want.max_age && have.max_bytes === want.max_bytes && have.duplicate_window === want.duplicate_window;
}

function validateStreams(streams: readonly JetStreamBusStream[], deadLetters: JetStreamDeadLetters): void {
  if (streams.length === 0) throw new BusError('bus_bad_option', 'the bus needs at least one stream');
  const all: string[] = [`${deadLetters.subjectPrefix}.>`];
  for (const stream of streams) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream.name)) throw new BusError('bus_bad_option', `"${stream.name}" is not a stream name: use letters, digits, "_" or "-"`, { stream: stream.name });
    if (stream.subjects.length === 0) throw new BusError('bus_bad_option', `stream ${stream.name} needs subjects`, { stream: stream.name });
    for (const s of stream.subjects) assertSubjectFilter(s);
    all.push(...stream.subjects);
  }
  assertDisjointFilters(all);
}
