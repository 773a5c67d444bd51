/**
 * The transactional outbox (ports and adapters, STYLE.md §2).
 *
 * A domain write that must be told to the outside (an incident opened, its status changed) also
 * writes an {@link OutboxEntry}, in the same database transaction: both commit or neither does, so
 * a notification is never sent for a write that rolled back, and never lost for one that committed
 * (the "dual write" problem of writing to a database and calling a webhook). The dispatcher then
 * delivers what committed, at least once, with an idempotency key a receiver de-duplicates on.
 */
import { NotificationError } from './notification-error.ts';

export interface OutboxEntry {
  /** What happened, e.g. `incident.opened`, `incident.updated`; endpoints subscribe by prefix. */
  topic: string;
  /**
   * Unique per fact, and stable when the same fact is enqueued again, e.g. `incident:12:opened`,
   * `incident:12:acknowledged`. A second entry with the same key is ignored, so a change that can
   * happen several times needs something that tells the times apart in its key (a version).
   * Visible ASCII without `"` and `\`, at most 255 characters: it travels in an HTTP header.
   */
  idempotencyKey: string;
  /** A JSON object; for `incident.*` topics `{ incident: IncidentNotice }` (see webhook-formats.ts). */
  payload: Record<string, unknown>;
}

/**
 * Called INSIDE the caller's database transaction (a writer bound to it, e.g. by a unit of work),
 * so the entry commits or rolls back with the domain write. A duplicate idempotencyKey is ignored
 * (resolves false).
 */
export interface OutboxWriter {
  enqueue(entry: OutboxEntry): Promise<boolean>;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead';

/** One entry on its way to one endpoint: what the dispatcher needs to send it. */
export interface PendingDelivery {
  /** The delivery row: orders an endpoint's queue and names the delivery in the store. */
  id: number;
  endpointId: string;
  topic: string;
  idempotencyKey: string;
  payload: Record<string, unknown>;
  /** When the entry was enqueued (epoch ms). */
  enqueuedAt: number;
  /** Attempts made so far. */
  attempts: number;
  /** Not to be attempted before this (epoch ms). */
  nextAttemptAt: number;
  /** Present while a dispatcher (perhaps another replica's) holds a claim on it: until when. */
  claimedUntil?: number;
}

/**
 * A dispatcher's claim on a delivery it is about to send: no other claimant can take it until
 * `at + leaseMs`. The lease outlasts a send (its timeout) by far, and ends early with any mark, so
 * a dispatcher that died mid-send holds its endpoint's queue up for one lease at most.
 */
export interface DeliveryClaim {
  /** Who claims: stable per server (a restarted server takes its own claims back at once). */
  claimant: string;
  at: number;
  leaseMs: number;
}

/** A delivery as an operator sees it (API, CLI): state and last outcome, no payload. */
export interface DeliveryRecord {
  id: number;
  endpointId: string;
  topic: string;
  idempotencyKey: string;
  state: DeliveryState;
  attempts: number;
  enqueuedAt: number;
  /** Only while pending. */
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatus: number | null;
  /** Why the last attempt failed: a status line or a network error, never a secret. */
  lastError: string | null;
  deliveredAt: number | null;
}

export interface EndpointOutboxStats {
  endpointId: string;
  pending: number;
  delivered: number;
  deadLettered: number;
  /** Enqueue time of the oldest pending delivery: how far behind this endpoint is. */
  oldestPendingAt: number | null;
}

export interface OutboxStats {
  entries: number;
  /** Every endpoint that has deliveries, including ones no longer configured. */
  endpoints: EndpointOutboxStats[];
}

export interface DeliveryQuery {
  state?: DeliveryState;
  endpointId?: string;
  /** Newest first, at most this many (default 100, max 1000). */
  limit?: number;
  /** Only deliveries older than this row (paging). */
  beforeId?: number;
}

export interface AttemptFailure {
  at: number;
  reason: string;
  status?: number;
  /** The claimant that made the attempt: the mark is refused when another one has claimed the delivery since. */
  claimant?: string;
}

export interface AttemptSuccess {
  at: number;
  status: number;
  /** As in {@link AttemptFailure}. */
  claimant?: string;
}

/**
 * What the dispatcher needs from storage, on SQLite or PostgreSQL. Every mark applies only to a
 * pending delivery (and, given a claimant, only to one no other claimant holds) and says whether
 * it did, so a late or repeated mark never changes a delivery that has moved on. Every mark ends
 * the delivery's claim.
 */
export interface OutboxStore {
  /**
   * The oldest pending delivery of an endpoint, due or not, claimed or not. Deliveries to one
   * endpoint go out one at a time and in enqueue order: a resolve never overtakes its trigger.
   */
  headOf(endpointId: string): Promise<PendingDelivery | undefined>;
  /**
   * Claims a pending delivery (one atomic update): true when the claimant now holds it — it was
   * unclaimed, its claim had expired, or the claim was already this claimant's. Two dispatchers
   * (replicas) on one database never both hold a delivery, so never send it at the same time.
   */
  claim(id: number, claim: DeliveryClaim): Promise<boolean>;
  markDelivered(id: number, result: AttemptSuccess): Promise<boolean>;
  /** Counts the attempt and schedules the next one. */
  markFailed(id: number, failure: AttemptFailure & { nextAttemptAt: number }): Promise<boolean>;
  /** Counts the attempt and gives up: the delivery stays, for an operator to read and redrive. */
  markDeadLettered(id: number, failure: AttemptFailure): Promise<boolean>;
  /** Puts a dead-lettered delivery back at its place in the endpoint's queue, with fresh attempts. */
  redrive(id: number, at: number): Promise<boolean>;
  stats(): Promise<OutboxStats>;
  list(query?: DeliveryQuery): Promise<DeliveryRecord[]>;
}

export const MAX_DELIVERY_PAGE = 1000;
const TOPIC = /^[a-z0-9][a-z0-9._-]{0,99}$/;
/** RFC 9110 §5.5 visible characters, minus the two that would need escaping in a quoted string. */
const IDEMPOTENCY_KEY = /^[\x21\x23-\x5b\x5d-\x7e]{1,255}$/;

/** The rules every store applies before writing an entry. */
export function assertValidOutboxEntry(entry: OutboxEntry): void {
  if (typeof entry.topic !== 'string' || !TOPIC.test(entry.topic)) {
    throw new NotificationError('entry_invalid', `outbox topic "${String(entry.topic)}" must be lower-case letters, digits, . _ - (at most 100)`, { topic: entry.topic });
  }
  if (typeof entry.idempotencyKey !== 'string' || !IDEMPOTENCY_KEY.test(entry.idempotencyKey)) {
    throw new NotificationError('entry_invalid', 'outbox idempotencyKey must be 1-255 visible ASCII characters without " or \\', { topic: entry.topic });
  }
  const p = entry.payload as unknown;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) {
    throw new NotificationError('entry_invalid', 'outbox payload must be a JSON object', { topic: entry.topic, idempotencyKey: entry.idempotencyKey });
  }
}
