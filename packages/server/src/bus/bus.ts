/**
 * The bus between ingest and its consumers (alarm evaluation, analytics, live views, webhooks),
 * ARCHITECTURE.md §5 (issue 12). A narrow port with two implementations: `InProcessBus`, the
 * embedded default, and `JetStreamBus`, for several server replicas sharing the work.
 *
 * Delivery guarantees (both implementations, within their durability — see each):
 * - `publish` resolves only once the message is stored; the same `id` published again within the
 *   de-duplication window is stored (and so delivered) once.
 * - `work`: each message is handled by one replica of the group at a time and acknowledged only
 *   after its handler resolves. A handler that throws, or a replica that dies or hangs, gets the
 *   message redelivered — possibly to another replica — up to `maxDeliver` times; after that it is
 *   dead-lettered (recorded and reported, never dropped silently). Delivery is therefore
 *   at-least-once: a replica that dies after its effect but before its acknowledgement reaches
 *   the bus sees the message again. Handlers make the effect exactly-once by keying it on
 *   `message.id` (e.g. `INSERT … ON CONFLICT DO NOTHING` on the id in the same transaction as the
 *   effect); `deliveryCount > 1` says a message may have been seen before.
 * - `fanout`: every replica receives every message stored after the call resolved, at most once,
 *   with no acknowledgement (live views: a replica that is down misses what it was not there for).
 *
 * Ordering:
 * - The bus stores messages in publish-completion order (one sequence per stream).
 * - `work` with `ordered: true`: each subject filter is its own consumer with one message
 *   outstanding at a time across all replicas, so messages matching one filter are handled in
 *   stored order, one after the other, even across failures and redeliveries (a failing message
 *   blocks the ones behind it until it succeeds or is dead-lettered).
 * - `work` without `ordered` (the default): messages are handled in parallel, across replicas and
 *   up to `concurrency` per replica; no order holds, and a redelivered message comes after later
 *   ones.
 * - Per-key order with parallelism: publish on `partitionSubject(base, key, n)` and work on
 *   `partitionSubjects(base, n)` with `ordered: true`. Each key stays in one partition, so its
 *   messages are handled in order, while up to n partitions are handled at once. Changing n moves
 *   keys between partitions: drain the old partitions before changing it.
 * - Messages on different filters (or partitions) have no order between them.
 * - `fanout` delivers each filter's messages in stored order.
 */

/** A message as a consumer sees it. */
export interface BusMessage {
  /** The publisher's id: the de-duplication key, and the key an idempotent consumer records. */
  readonly id: string;
  readonly subject: string;
  readonly payload: Uint8Array;
  /**
   * 1 on first delivery; more when redelivered (after a failure, a dead or slow replica). A hint,
   * not proof: after a nats-server crash the server can lose its newest delivery records and
   * deliver a message again with 1. Idempotence rests on `id`.
   */
  readonly deliveryCount: number;
  /** When the bus stored it (ms since the epoch). */
  readonly storedAt: number;
}

export interface PublishOptions {
  /**
   * Unique per message (per logical event: a retry of the same event uses the same id). Within
   * the bus's de-duplication window a second publish with the same id is not stored again.
   */
  readonly id: string;
}

export interface PublishReceipt {
  /** True when a message with this id was already stored (this publish added nothing). */
  readonly duplicate: boolean;
}

/** Handles one message for a group; resolving acknowledges it, throwing asks for redelivery. */
export type WorkHandler = (message: BusMessage) => Promise<void>;

/** Receives every message of a fanout; errors are logged, never redelivered. */
export type FanoutHandler = (message: BusMessage) => void | Promise<void>;

export interface WorkOptions {
  /**
   * One message outstanding per subject filter across every replica: strict stored order per
   * filter (see Ordering above). Default false.
   */
  readonly ordered?: boolean;
  /** Messages this replica handles at once for this call (default 16; 1 per filter when ordered). */
  readonly concurrency?: number;
  /** Deliveries before a message is dead-lettered (default: the bus's, normally 5). */
  readonly maxDeliver?: number;
  /** Wait before a failed message is offered again (default: the bus's, normally 1 s). */
  readonly retryDelayMs?: number;
}

/** A message that could not be handled within its delivery limit. */
export interface DeadLetter {
  readonly group: string;
  readonly message: BusMessage;
  /** Why the last delivery failed. */
  readonly reason: string;
}

/** Called when a message is dead-lettered, after it was recorded (JetStream: stored in the dead-letter stream). */
export type DeadLetterListener = (letter: DeadLetter) => void;

/** The part of a pino logger the bus uses. */
export interface BusLog {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** A running `work` or `fanout` call. */
export interface BusSubscription {
  /** Stops taking messages and waits for the ones being handled to settle. */
  close(): Promise<void>;
}

export interface Bus {
  /**
   * Stores `payload` on `subject`. Resolves once it is stored (durably, for a durable bus);
   * rejects with `bus_publish_failed` when that is not confirmed — publish again with the same id.
   */
  publish(subject: string, payload: Uint8Array, options: PublishOptions): Promise<PublishReceipt>;
  /**
   * Handles the messages on `subjects` (disjoint filters) as one replica of `group`: all replicas
   * that call `work` with the same group share one durable position and split the messages. A new
   * group starts at the oldest message the bus retains. Resolves once this replica is taking
   * messages.
   */
  work(group: string, subjects: readonly string[], handler: WorkHandler, options?: WorkOptions): Promise<BusSubscription>;
  /** Receives every message on `subjects` stored from now on, on every replica. */
  fanout(subjects: readonly string[], handler: FanoutHandler): Promise<BusSubscription>;
  /** Stops every subscription, waits for in-flight handlers to settle, then disconnects. */
  close(): Promise<void>;
}

export const DEFAULT_WORK_CONCURRENCY = 16;
export const DEFAULT_MAX_DELIVER = 5;
export const DEFAULT_RETRY_DELAY_MS = 1_000;
export const DEFAULT_ACK_WAIT_MS = 30_000;
export const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

/** A logger that drops everything (the default when none is given). */
export const silentBusLog: BusLog = { warn: () => undefined, error: () => undefined };
