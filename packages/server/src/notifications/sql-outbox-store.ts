/**
 * The outbox in the server's database, SQLite or PostgreSQL. Entries are written by a writer bound
 * to the caller's transaction (`writerIn(tx)`), so they commit or roll back with the domain write;
 * the dispatcher reads and marks outside any transaction, so it never sees an entry that may still
 * roll back (PostgreSQL shows only what committed; on SQLite the connection's lock waits for the
 * transaction to end).
 *
 * Several dispatchers on one PostgreSQL (replicas): each claims a delivery with one atomic UPDATE
 * before sending it (`claim`, a lease in `claimed_by`/`claimed_until`); the row lock that UPDATE
 * takes makes a second claimant re-read the row and find it taken, so a delivery is never sent by
 * two at once. Marks end the claim and, given the claimant, are refused once another one holds it.
 */
import { sql, type Generated, type Kysely, type UpdateObject } from 'kysely';
import { inTransaction, type SqlExecutor } from '../db/sql-database.ts';
import { isSubscribed, type EndpointSubscription } from './notification-endpoint.ts';
import {
  MAX_DELIVERY_PAGE, assertValidOutboxEntry, type AttemptFailure, type AttemptSuccess, type DeliveryClaim, type DeliveryQuery,
  type DeliveryRecord, type DeliveryState, type OutboxEntry, type OutboxStats, type OutboxStore, type OutboxWriter, type PendingDelivery,
} from './outbox.ts';

const DEFAULT_DELIVERY_PAGE = 100;
/** A receiver's error text is kept for the operator, not a whole HTML error page. */
const MAX_ERROR_CHARS = 500;

interface OutboxTables {
  outbox_entries: { id: Generated<number>; idempotency_key: string; topic: string; payload: string; enqueued_at: number };
  outbox_deliveries: {
    id: Generated<number>; entry_id: number; endpoint_id: string; state: Generated<DeliveryState>; attempts: Generated<number>;
    next_attempt_at: number | null; last_attempt_at: number | null; last_status: number | null; last_error: string | null;
    delivered_at: number | null; claimed_by: string | null; claimed_until: number | null;
  };
}

const tables = (exec: SqlExecutor) => exec as Kysely<OutboxTables>;
const changed = (r: { numUpdatedRows: bigint }) => r.numUpdatedRows > 0n;

export interface SqlOutboxStoreOptions {
  now?: () => number;
  /** Who receives what: each entry gets one delivery row per subscribed endpoint, in its transaction. */
  endpoints?: readonly EndpointSubscription[];
}

/** Writes entries on one executor: the store's own (a transaction per entry) or a caller's transaction. */
class SqlOutboxWriter implements OutboxWriter {
  constructor(protected readonly exec: SqlExecutor, protected readonly now: () => number, protected readonly endpoints: readonly EndpointSubscription[]) {}

  async enqueue(entry: OutboxEntry): Promise<boolean> {
    assertValidOutboxEntry(entry);
    const payload = JSON.stringify(entry.payload);
    return inTransaction(this.exec, async (tx) => {
      const at = this.now();
      // A repeated key is ignored; on PostgreSQL a concurrent one waits for the first to commit, then is ignored too.
      const inserted = await tables(tx).insertInto('outbox_entries')
        .values({ idempotency_key: entry.idempotencyKey, topic: entry.topic, payload, enqueued_at: at })
        .onConflict((oc) => oc.column('idempotency_key').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted === undefined) return false;
      const subscribed = this.endpoints.filter((e) => isSubscribed(e, entry.topic));
      if (subscribed.length > 0) {
        await tables(tx).insertInto('outbox_deliveries')
          .values(subscribed.map((e) => ({ entry_id: inserted.id, endpoint_id: e.id, next_attempt_at: at })))
          .onConflict((oc) => oc.columns(['entry_id', 'endpoint_id']).doNothing())
          .execute();
      }
      return true;
    });
  }
}

export class SqlOutboxStore extends SqlOutboxWriter implements OutboxStore {
  constructor(exec: SqlExecutor, options: SqlOutboxStoreOptions = {}) {
    super(exec, options.now ?? Date.now, [...(options.endpoints ?? [])]);
  }

  /** A writer whose entries are part of `tx`, the caller's transaction (an incident and its notice commit together). */
  writerIn(tx: SqlExecutor): OutboxWriter {
    return new SqlOutboxWriter(tx, this.now, this.endpoints);
  }

  async headOf(endpointId: string): Promise<PendingDelivery | undefined> {
    const r = await tables(this.exec).selectFrom('outbox_deliveries as d')
      .innerJoin('outbox_entries as e', 'e.id', 'd.entry_id')
      .select(['d.id', 'd.endpoint_id', 'd.attempts', 'd.next_attempt_at', 'd.claimed_by', 'd.claimed_until', 'e.topic', 'e.idempotency_key', 'e.payload', 'e.enqueued_at'])
      .where('d.endpoint_id', '=', endpointId).where('d.state', '=', 'pending')
      .orderBy('d.id', 'asc').limit(1)
      .executeTakeFirst();
    if (r === undefined) return undefined;
    return {
      id: r.id, endpointId: r.endpoint_id, topic: r.topic, idempotencyKey: r.idempotency_key,
      payload: JSON.parse(r.payload) as Record<string, unknown>, enqueuedAt: r.enqueued_at, attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at ?? r.enqueued_at,
      ...(r.claimed_by !== null && r.claimed_until !== null ? { claimedUntil: r.claimed_until } : {}),
    };
  }

  async claim(id: number, claim: DeliveryClaim): Promise<boolean> {
    const result = await tables(this.exec).updateTable('outbox_deliveries')
      .set({ claimed_by: claim.claimant, claimed_until: claim.at + Math.max(1, claim.leaseMs) })
      .where('id', '=', id).where('state', '=', 'pending')
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', claim.at), eb('claimed_by', '=', claim.claimant)]))
      .executeTakeFirst();
    return changed(result);
  }

  async markDelivered(id: number, result: AttemptSuccess): Promise<boolean> {
    return this.mark(id, result.claimant, {
      state: 'delivered', attempts: sql<number>`attempts + 1`, last_attempt_at: result.at, last_status: result.status,
      last_error: null, next_attempt_at: null, delivered_at: result.at,
    });
  }

  async markFailed(id: number, failure: AttemptFailure & { nextAttemptAt: number }): Promise<boolean> {
    return this.mark(id, failure.claimant, { ...failureColumns(failure), next_attempt_at: failure.nextAttemptAt });
  }

  async markDeadLettered(id: number, failure: AttemptFailure): Promise<boolean> {
    return this.mark(id, failure.claimant, { ...failureColumns(failure), state: 'dead', next_attempt_at: null });
  }

  async redrive(id: number, at: number): Promise<boolean> {
    const result = await tables(this.exec).updateTable('outbox_deliveries')
      .set({ state: 'pending', attempts: 0, next_attempt_at: at, claimed_by: null, claimed_until: null })
      .where('id', '=', id).where('state', '=', 'dead')
      .executeTakeFirst();
    return changed(result);
  }

  async stats(): Promise<OutboxStats> {
    const { count } = await tables(this.exec).selectFrom('outbox_entries').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    const rows = await tables(this.exec).selectFrom('outbox_deliveries as d')
      .innerJoin('outbox_entries as e', 'e.id', 'd.entry_id')
      .select([
        'd.endpoint_id',
        sql<number>`SUM(CASE WHEN d.state = 'pending' THEN 1 ELSE 0 END)`.as('pending'),
        sql<number>`SUM(CASE WHEN d.state = 'delivered' THEN 1 ELSE 0 END)`.as('delivered'),
        sql<number>`SUM(CASE WHEN d.state = 'dead' THEN 1 ELSE 0 END)`.as('dead'),
        sql<number | null>`MIN(CASE WHEN d.state = 'pending' THEN e.enqueued_at END)`.as('oldest_pending_at'),
      ])
      .groupBy('d.endpoint_id').orderBy('d.endpoint_id', 'asc')
      .execute();
    return {
      entries: Number(count),
      endpoints: rows.map((r) => ({
        endpointId: r.endpoint_id, pending: Number(r.pending), delivered: Number(r.delivered), deadLettered: Number(r.dead),
        oldestPendingAt: r.oldest_pending_at === null ? null : Number(r.oldest_pending_at),
      })),
    };
  }

  async list(query: DeliveryQuery = {}): Promise<DeliveryRecord[]> {
    let q = tables(this.exec).selectFrom('outbox_deliveries as d')
      .innerJoin('outbox_entries as e', 'e.id', 'd.entry_id')
      .select([
        'd.id', 'd.endpoint_id', 'e.topic', 'e.idempotency_key', 'd.state', 'd.attempts', 'e.enqueued_at', 'd.next_attempt_at',
        'd.last_attempt_at', 'd.last_status', 'd.last_error', 'd.delivered_at',
      ]);
    if (query.state !== undefined) q = q.where('d.state', '=', query.state);
    if (query.endpointId !== undefined) q = q.where('d.endpoint_id', '=', query.endpointId);
    if (query.beforeId !== undefined) q = q.where('d.id', '<', query.beforeId);
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? DEFAULT_DELIVERY_PAGE)), MAX_DELIVERY_PAGE);
    const rows = await q.orderBy('d.id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id, endpointId: r.endpoint_id, topic: r.topic, idempotencyKey: r.idempotency_key, state: r.state, attempts: r.attempts,
      enqueuedAt: r.enqueued_at, nextAttemptAt: r.next_attempt_at, lastAttemptAt: r.last_attempt_at, lastStatus: r.last_status,
      lastError: r.last_error, deliveredAt: r.delivered_at,
    }));
  }

  /** Updates a pending delivery no other claimant holds, and ends its claim. */
  private async mark(id: number, claimant: string | undefined, columns: UpdateObject<OutboxTables, 'outbox_deliveries'>): Promise<boolean> {
    let update = tables(this.exec).updateTable('outbox_deliveries')
      .set({ ...columns, claimed_by: null, claimed_until: null })
      .where('id', '=', id).where('state', '=', 'pending');
    if (claimant !== undefined) update = update.where((eb) => eb.or([eb('claimed_by', 'is', null), eb('claimed_by', '=', claimant)]));
    return changed(await update.executeTakeFirst());
  }
}

function failureColumns(f: AttemptFailure) {
  return { attempts: sql<number>`attempts + 1`, last_attempt_at: f.at, last_status: f.status ?? null, last_error: f.reason.slice(0, MAX_ERROR_CHARS) };
}
