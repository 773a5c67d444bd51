/**
 * The outbox in the server's SQLite database. Entries are written with the caller's handle, inside
 * its transaction; the dispatcher's reads and marks run only between transactions, so it can
 * neither send an entry that may still roll back nor have a mark rolled back with someone else's work.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import { isSubscribed, type EndpointSubscription } from './notification-endpoint.ts';
import {
  MAX_DELIVERY_PAGE, assertValidOutboxEntry, type AttemptFailure, type DeliveryQuery, type DeliveryRecord, type DeliveryState,
  type OutboxEntry, type OutboxStats, type OutboxStore, type OutboxWriter, type PendingDelivery,
} from './outbox.ts';

const DEFAULT_DELIVERY_PAGE = 100;
/** A receiver's error text is kept for the operator, not a whole HTML error page. */
const MAX_ERROR_CHARS = 500;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'outbox entries and one delivery per subscribed endpoint',
    up(db) {
      // AUTOINCREMENT: ids are never reused, so id order stays enqueue order for good.
      db.exec(`CREATE TABLE outbox_entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL
      )`);
      db.exec(`CREATE TABLE outbox_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entry_id INTEGER NOT NULL REFERENCES outbox_entries (id),
        endpoint_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_attempt_at INTEGER,
        last_status INTEGER,
        last_error TEXT,
        delivered_at INTEGER,
        UNIQUE (entry_id, endpoint_id)
      )`);
      // Each endpoint's queue: only pending rows, so the index stays as small as the backlog.
      db.exec(`CREATE INDEX outbox_deliveries_queue ON outbox_deliveries (endpoint_id, id) WHERE state = 'pending'`);
    },
  },
];

interface PendingRow {
  id: number; endpoint_id: string; attempts: number; next_attempt_at: number;
  topic: string; idempotency_key: string; payload: string; enqueued_at: number;
}

interface DeliveryRow {
  id: number; endpoint_id: string; topic: string; idempotency_key: string; state: DeliveryState; attempts: number;
  enqueued_at: number; next_attempt_at: number | null; last_attempt_at: number | null; last_status: number | null;
  last_error: string | null; delivered_at: number | null;
}

function toRecord(r: DeliveryRow): DeliveryRecord {
  return {
    id: r.id, endpointId: r.endpoint_id, topic: r.topic, idempotencyKey: r.idempotency_key, state: r.state, attempts: r.attempts,
    enqueuedAt: r.enqueued_at, nextAttemptAt: r.next_attempt_at, lastAttemptAt: r.last_attempt_at, lastStatus: r.last_status,
    lastError: r.last_error, deliveredAt: r.delivered_at,
  };
}

const DELIVERY_COLUMNS = `d.id, d.endpoint_id, e.topic, e.idempotency_key, d.state, d.attempts, e.enqueued_at, d.next_attempt_at,
  d.last_attempt_at, d.last_status, d.last_error, d.delivered_at`;

export interface SqliteOutboxOptions {
  now?: () => number;
  /** Who receives what: each entry gets one delivery row per subscribed endpoint, in its transaction. */
  endpoints?: readonly EndpointSubscription[];
}

export class SqliteOutbox implements OutboxWriter, OutboxStore {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly endpoints: readonly EndpointSubscription[];
  private readonly insertEntry: Statement;
  private readonly insertDelivery: Statement;
  private readonly selectHead: Statement;
  private readonly updateDelivered: Statement;
  private readonly updateFailed: Statement;
  private readonly updateDead: Statement;
  private readonly updateRedriven: Statement;
  private readonly fanOut: (entry: OutboxEntry, payload: string) => boolean;

  constructor(db: SqliteDatabase, options: SqliteOutboxOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.endpoints = [...(options.endpoints ?? [])];
    runMigrations(db, 'notifications', MIGRATIONS);
    this.insertEntry = db.prepare(`INSERT INTO outbox_entries (idempotency_key, topic, payload, enqueued_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (idempotency_key) DO NOTHING`);
    this.insertDelivery = db.prepare(`INSERT INTO outbox_deliveries (entry_id, endpoint_id, next_attempt_at) VALUES (?, ?, ?)
      ON CONFLICT (entry_id, endpoint_id) DO NOTHING`);
    this.selectHead = db.prepare(`SELECT d.id, d.endpoint_id, d.attempts, d.next_attempt_at, e.topic, e.idempotency_key, e.payload, e.enqueued_at
      FROM outbox_deliveries d JOIN outbox_entries e ON e.id = d.entry_id
      WHERE d.endpoint_id = ? AND d.state = 'pending' ORDER BY d.id LIMIT 1`);
    this.updateDelivered = db.prepare(`UPDATE outbox_deliveries SET state = 'delivered', attempts = attempts + 1, last_attempt_at = @at,
      last_status = @status, last_error = NULL, next_attempt_at = NULL, delivered_at = @at WHERE id = @id AND state = 'pending'`);
    this.updateFailed = db.prepare(`UPDATE outbox_deliveries SET attempts = attempts + 1, last_attempt_at = @at, last_status = @status,
      last_error = @reason, next_attempt_at = @nextAttemptAt WHERE id = @id AND state = 'pending'`);
    this.updateDead = db.prepare(`UPDATE outbox_deliveries SET state = 'dead', attempts = attempts + 1, last_attempt_at = @at,
      last_status = @status, last_error = @reason, next_attempt_at = NULL WHERE id = @id AND state = 'pending'`);
    this.updateRedriven = db.prepare(`UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?
      WHERE id = ? AND state = 'dead'`);
    // A savepoint when the caller already holds a transaction (better-sqlite3 nests them), its own otherwise.
    this.fanOut = db.transaction((entry: OutboxEntry, payload: string): boolean => {
      const at = this.now();
      const { changes, lastInsertRowid } = this.insertEntry.run(entry.idempotencyKey, entry.topic, payload, at);
      if (changes === 0) return false;
      for (const endpoint of this.endpoints) {
        if (isSubscribed(endpoint, entry.topic)) this.insertDelivery.run(lastInsertRowid, endpoint.id, at);
      }
      return true;
    });
  }

  enqueue(entry: OutboxEntry): boolean {
    assertValidOutboxEntry(entry);
    return this.fanOut(entry, JSON.stringify(entry.payload));
  }

  async headOf(endpointId: string): Promise<PendingDelivery | undefined> {
    await this.betweenTransactions();
    const r = this.selectHead.get(endpointId) as PendingRow | undefined;
    if (r === undefined) return undefined;
    return {
      id: r.id, endpointId: r.endpoint_id, topic: r.topic, idempotencyKey: r.idempotency_key,
      payload: JSON.parse(r.payload) as Record<string, unknown>, enqueuedAt: r.enqueued_at, attempts: r.attempts, nextAttemptAt: r.next_attempt_at,
    };
  }

  async markDelivered(id: number, result: { at: number; status: number }): Promise<boolean> {
    await this.betweenTransactions();
    return this.updateDelivered.run({ id, at: result.at, status: result.status }).changes > 0;
  }

  async markFailed(id: number, failure: AttemptFailure & { nextAttemptAt: number }): Promise<boolean> {
    await this.betweenTransactions();
    return this.updateFailed.run({ id, ...failureColumns(failure), nextAttemptAt: failure.nextAttemptAt }).changes > 0;
  }

  async markDeadLettered(id: number, failure: AttemptFailure): Promise<boolean> {
    await this.betweenTransactions();
    return this.updateDead.run({ id, ...failureColumns(failure) }).changes > 0;
  }

  async redrive(id: number, at: number): Promise<boolean> {
    await this.betweenTransactions();
    return this.updateRedriven.run(at, id).changes > 0;
  }

  async stats(): Promise<OutboxStats> {
    await this.betweenTransactions();
    const entries = this.db.prepare('SELECT COUNT(*) FROM outbox_entries').pluck().get() as number;
    const rows = this.db.prepare(`SELECT d.endpoint_id AS endpointId,
        SUM(d.state = 'pending') AS pending, SUM(d.state = 'delivered') AS delivered, SUM(d.state = 'dead') AS deadLettered,
        MIN(CASE WHEN d.state = 'pending' THEN e.enqueued_at END) AS oldestPendingAt
      FROM outbox_deliveries d JOIN outbox_entries e ON e.id = d.entry_id
      GROUP BY d.endpoint_id ORDER BY d.endpoint_id`).all() as OutboxStats['endpoints'];
    return { entries, endpoints: rows };
  }

  async list(query: DeliveryQuery = {}): Promise<DeliveryRecord[]> {
    await this.betweenTransactions();
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.state !== undefined) { where.push('d.state = ?'); params.push(query.state); }
    if (query.endpointId !== undefined) { where.push('d.endpoint_id = ?'); params.push(query.endpointId); }
    if (query.beforeId !== undefined) { where.push('d.id < ?'); params.push(query.beforeId); }
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? DEFAULT_DELIVERY_PAGE)), MAX_DELIVERY_PAGE);
    const sql = `SELECT ${DELIVERY_COLUMNS} FROM outbox_deliveries d JOIN outbox_entries e ON e.id = d.entry_id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, limit) as DeliveryRow[]).map(toRecord);
  }

  /**
   * better-sqlite3 transactions are synchronous, so one is open at an await only when a caller ran
   * BEGIN by hand around asynchronous work: wait for it to end rather than read inside it.
   */
  private async betweenTransactions(): Promise<void> {
    while (this.db.inTransaction) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function failureColumns(f: AttemptFailure): { at: number; status: number | null; reason: string } {
  return { at: f.at, status: f.status ?? null, reason: f.reason.slice(0, MAX_ERROR_CHARS) };
}
