/**
 * The audit log in the server's database, SQLite or PostgreSQL: an append-only, keyed hash chain.
 *
 * hash(n) = HMAC-SHA256(audit key, event n and hash(n-1)) (see event-hash.ts), 64 zeros before the
 * first event. The key lives outside the database (audit-key.ts); the database records only the
 * key's id and from which event on the chain is keyed (`audit_chain`), so a server started with
 * another key refuses, and a database written before keying keeps its legacy events verifiable.
 * The tables refuse UPDATE and DELETE (audit-schema.ts); the anchors (audit-anchoring.ts) show a
 * cut-off tail.
 *
 * One chain, several writers: an append reads the previous event and writes the next one inside
 * the writer's transaction, holding the chain's lock until that transaction ends — on PostgreSQL
 * `pg_advisory_xact_lock`, so two replicas (or two transactions of one) never both append after the
 * same event; on SQLite the database's single writer lock (`BEGIN IMMEDIATE`, and the connection's
 * write lock). The previous hash is never cached in memory: it is whatever committed before, so a
 * transaction that rolls back leaves neither an event nor a head anyone else builds on.
 * Because the lock is held to the end of the writer's transaction, a unit of work should record
 * its audit event as its last write: every other writer of the chain waits for it to commit.
 */
import { sql, type Kysely } from 'kysely';
import { inTransaction, type SqlEngine, type SqlExecutor } from '../db/sql-database.ts';
import type { AuditEvent, AuditEventInput, AuditListOptions, AuditLog, AuditRecorder, AuditVerification } from './audit-log.ts';
import { AuditError } from './audit-error.ts';
import type { AuditKey } from './audit-key.ts';
import type { AnchorFile } from './anchor-file.ts';
import type { ChainHead } from './audit-anchoring.ts';
import { canonicalJson } from './canonical-json.ts';
import { verifyChainAsync, type ChainKeying, type StoredAuditEvent } from './chain-verification.ts';
import { GENESIS_HASH, keyedEventHash } from './event-hash.ts';

export const MAX_AUDIT_PAGE = 1000;
const DEFAULT_AUDIT_PAGE = 100;
/** Events read per query while verifying: the walk never holds the whole chain in memory. */
const VERIFY_PAGE = 1000;
/** The key of the chain's advisory lock on PostgreSQL: "shellguard audit". */
const AUDIT_CHAIN_LOCK_KEY = 0x5e11_a0d1;

interface AuditTables {
  audit_events: { seq: number; at: number; actor: string; action: string; target: string; detail: string; prev_hash: string; hash: string };
  audit_chain: { id: number; key_id: string; keyed_from_seq: number; adopted_at: number };
}
type AuditRow = AuditTables['audit_events'];

const tables = (exec: SqlExecutor) => exec as Kysely<AuditTables>;

function toEvent(row: AuditRow): AuditEvent {
  return {
    seq: row.seq, at: row.at, actor: row.actor, action: row.action, target: row.target,
    detail: JSON.parse(row.detail) as Record<string, unknown>, prevHash: row.prev_hash, hash: row.hash,
  };
}

/** The keying the database records, or undefined when its chain was never keyed (the audit tables must exist). */
export async function readChainKeying(exec: SqlExecutor): Promise<ChainKeying | undefined> {
  const row = await tables(exec).selectFrom('audit_chain').select(['key_id', 'keyed_from_seq']).where('id', '=', 1).executeTakeFirst();
  return row && { keyId: row.key_id, keyedFromSeq: row.keyed_from_seq };
}

/** Every stored event in sequence order, as verification reads them, a page per query. */
export async function* storedAuditEvents(exec: SqlExecutor, pageSize = VERIFY_PAGE): AsyncGenerator<StoredAuditEvent> {
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const page = await tables(exec).selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq', 'asc').limit(pageSize).execute();
    for (const r of page) {
      yield { seq: r.seq, at: r.at, actor: r.actor, action: r.action, target: r.target, detailText: r.detail, prevHash: r.prev_hash, hash: r.hash };
    }
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.seq;
  }
}

async function lastEvent(exec: SqlExecutor): Promise<ChainHead | undefined> {
  return tables(exec).selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

/**
 * Takes the chain's lock for the rest of `tx` (PostgreSQL). On SQLite the transaction already holds
 * the database's only write lock.
 */
async function lockChain(tx: SqlExecutor, engine: SqlEngine): Promise<void> {
  if (engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`.execute(tx);
}

export interface SqlAuditLogOptions {
  /** Which engine `exec` runs on: PostgreSQL appends take an advisory lock. */
  engine: SqlEngine;
  /** The chain's key (audit-key.ts); tests may pass `ephemeralAuditKey()`. */
  key: AuditKey;
  now?: () => number;
  /** The anchor file `verify()` checks; without one, a cut-off tail is not detected. */
  anchors?: Pick<AnchorFile, 'path' | 'readLines'>;
  /**
   * Called after each recorded event, possibly inside the caller's transaction (which may still
   * roll back): count, do no I/O. The anchoring hangs here; it anchors only what committed.
   */
  onRecorded?: (event: AuditEvent) => void;
}

type ResolvedOptions = SqlAuditLogOptions & { now: () => number };

/** Appends the next event in `tx`, which holds the chain's lock from here to its end. */
async function appendEvent(tx: SqlExecutor, options: ResolvedOptions, input: AuditEventInput): Promise<AuditEvent> {
  await lockChain(tx, options.engine);
  // Read inside the lock: the previous event is the last one committed (or this transaction's own).
  const prev = await lastEvent(tx);
  // The detail is stored as its canonical text and hashed as what that text parses back to,
  // so verify() recomputes exactly the same bytes.
  const detailText = canonicalJson(input.detail ?? {});
  const unhashed = {
    seq: (prev?.seq ?? 0) + 1,
    at: options.now(),
    actor: input.actor,
    action: input.action,
    target: input.target,
    detail: JSON.parse(detailText) as Record<string, unknown>,
    prevHash: prev?.hash ?? GENESIS_HASH,
  };
  const event: AuditEvent = { ...unhashed, hash: keyedEventHash(options.key, unhashed) };
  await tables(tx).insertInto('audit_events').values({
    seq: event.seq, at: event.at, actor: event.actor, action: event.action, target: event.target,
    detail: detailText, prev_hash: event.prevHash, hash: event.hash,
  }).execute();
  return event;
}

/** Appends on one executor: the log's own (each record its own transaction) or a caller's transaction. */
class SqlAuditRecorder implements AuditRecorder {
  constructor(protected readonly exec: SqlExecutor, protected readonly options: ResolvedOptions) {}

  async record(input: AuditEventInput): Promise<AuditEvent> {
    const stored = await inTransaction(this.exec, (tx) => appendEvent(tx, this.options, input));
    this.options.onRecorded?.(stored);
    return stored;
  }
}

export class SqlAuditLog extends SqlAuditRecorder implements AuditLog {
  /** Events from this sequence number on are keyed; before it, legacy (see event-hash.ts). */
  readonly keyedFromSeq: number;
  readonly keyId: string;

  private constructor(exec: SqlExecutor, options: ResolvedOptions, keyedFromSeq: number) {
    super(exec, options);
    this.keyId = options.key.id;
    this.keyedFromSeq = keyedFromSeq;
  }

  /**
   * The log on `exec` (the audit tables migrated), after checking that the database's chain was
   * written with this key, or adopting the key when it has none yet. A database with legacy
   * (unkeyed) events gets a first keyed event that names the legacy head: its HMAC covers that
   * hash, so re-chaining the legacy part breaks the link there.
   */
  static async open(exec: SqlExecutor, options: SqlAuditLogOptions): Promise<SqlAuditLog> {
    const resolved: ResolvedOptions = { ...options, now: options.now ?? Date.now };
    const keying = await inTransaction(exec, async (tx): Promise<ChainKeying> => {
      // Two replicas starting at once: one adopts, the other finds the keying written.
      await lockChain(tx, options.engine);
      const existing = await readChainKeying(tx);
      if (existing) return existing;
      const head = await lastEvent(tx);
      const keyedFromSeq = (head?.seq ?? 0) + 1;
      await tables(tx).insertInto('audit_chain').values({ id: 1, key_id: options.key.id, keyed_from_seq: keyedFromSeq, adopted_at: resolved.now() }).execute();
      if (head) {
        await appendEvent(tx, resolved, {
          actor: 'system', action: 'audit.chain.keyed', target: 'audit',
          detail: { legacyEvents: head.seq, legacyHeadHash: head.hash, keyId: options.key.id },
        });
      }
      return { keyId: options.key.id, keyedFromSeq };
    });
    if (keying.keyId !== options.key.id) {
      throw new AuditError('audit_key_mismatch', 'this is not the key the audit chain of this database was written with '
        + `(the database records key id ${keying.keyId}, the key given has id ${options.key.id})`, { expectedKeyId: keying.keyId, keyId: options.key.id });
    }
    return new SqlAuditLog(exec, resolved, keying.keyedFromSeq);
  }

  /**
   * A recorder whose events are written in `tx`, the caller's transaction: they commit with the
   * change they record, or vanish with it. The chain stays locked until `tx` ends.
   */
  recorderIn(tx: SqlExecutor): AuditRecorder {
    return new SqlAuditRecorder(tx, this.options);
  }

  /** Events in sequence order, after `afterSeq` (default 0), at most `limit` (default 100, max 1000). */
  async list(options: AuditListOptions = {}): Promise<AuditEvent[]> {
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? DEFAULT_AUDIT_PAGE)), MAX_AUDIT_PAGE);
    let query = tables(this.exec).selectFrom('audit_events').selectAll();
    query = options.newestFirst
      ? query.where('seq', '<', Math.trunc(options.beforeSeq ?? Number.MAX_SAFE_INTEGER))
      : query.where('seq', '>', Math.max(0, Math.trunc(options.afterSeq ?? 0)));
    if (options.target !== undefined) query = query.where('target', '=', options.target);
    if (options.actor !== undefined) query = query.where('actor', '=', options.actor);
    // A prefix: `alarm.` is every alarm action. Compared exactly (case and all) on both engines,
    // without LIKE's wildcards.
    if (options.actionPrefix !== undefined && options.actionPrefix !== '') {
      query = query.where(sql<string>`substr(action, 1, ${options.actionPrefix.length})`, '=', options.actionPrefix);
    }
    const rows = await query.orderBy('seq', options.newestFirst ? 'desc' : 'asc').limit(limit).execute();
    return rows.map(toEvent);
  }

  /** The last committed event (seq 0 and the genesis hash when empty): what an anchor may vouch for. */
  async head(): Promise<ChainHead> {
    // Outside any transaction: PostgreSQL shows only what committed, and SQLite's connection lock
    // waits for a transaction in flight to end.
    return (await lastEvent(this.exec)) ?? { seq: 0, hash: GENESIS_HASH };
  }

  /** Walks the whole chain with the key and checks every anchor (see chain-verification.ts). */
  async verify(): Promise<AuditVerification> {
    // The anchors first: each names a head that had committed when it was written, so every event
    // it vouches for is there when the walk reads them after.
    const anchors = this.options.anchors ? { file: this.options.anchors.path, lines: this.options.anchors.readLines() } : undefined;
    const keying = await readChainKeying(this.exec);
    return verifyChainAsync({ events: storedAuditEvents(this.exec), key: this.options.key, keying, ...(anchors ? { anchors } : {}) });
  }
}
