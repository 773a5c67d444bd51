/**
 * The audit log in the server's SQLite database: an append-only, keyed hash chain.
 *
 * hash(n) = HMAC-SHA256(audit key, event n and hash(n-1)) (see event-hash.ts), 64 zeros before the
 * first event. The key lives outside the database (audit-key.ts); the database records only the
 * key's id and from which event on the chain is keyed (`audit_chain`), so a server started with
 * another key refuses, and a database written before keying keeps its legacy events verifiable.
 * Triggers refuse UPDATE and DELETE, so no code path through this database (a bug included) can
 * rewrite history; someone with the file and a SQLite shell can, but cannot make hashes the key
 * verifies, and the anchors (audit-anchoring.ts) show a cut-off tail.
 */
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import type { AuditEvent, AuditEventInput, AuditListOptions, AuditLog, AuditVerification } from './audit-log.ts';
import { AuditError } from './audit-error.ts';
import { ephemeralAuditKey, type AuditKey } from './audit-key.ts';
import type { AnchorFile } from './anchor-file.ts';
import type { ChainHead } from './audit-anchoring.ts';
import { canonicalJson } from './canonical-json.ts';
import { verifyChain, type ChainKeying, type StoredAuditEvent } from './chain-verification.ts';
import { GENESIS_HASH, keyedEventHash } from './event-hash.ts';

export const MAX_AUDIT_PAGE = 1000;
const DEFAULT_AUDIT_PAGE = 100;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'hash-chained audit events, append-only',
    up(db) {
      db.exec(`CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`);
      db.exec('CREATE INDEX audit_events_target ON audit_events (target, seq)');
      db.exec(`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`);
      db.exec(`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`);
    },
  },
  {
    version: 2,
    description: 'the audit chain\'s keying: which key (its id, never the key) and from which event on',
    up(db) {
      db.exec(`CREATE TABLE audit_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key_id TEXT NOT NULL,
        keyed_from_seq INTEGER NOT NULL,
        adopted_at INTEGER NOT NULL
      )`);
      db.exec(`CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'the audit chain keying is written once'); END`);
      db.exec(`CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'the audit chain keying is written once'); END`);
    },
  },
];

interface AuditRow {
  seq: number; at: number; actor: string; action: string; target: string; detail: string; prev_hash: string; hash: string;
}

function toEvent(row: AuditRow): AuditEvent {
  return {
    seq: row.seq, at: row.at, actor: row.actor, action: row.action, target: row.target,
    detail: JSON.parse(row.detail) as Record<string, unknown>, prevHash: row.prev_hash, hash: row.hash,
  };
}

/** The stored events in order, as verification reads them. */
export const STORED_EVENTS_SQL = `SELECT seq, at, actor, action, target, detail AS detailText, prev_hash AS prevHash, hash
  FROM audit_events ORDER BY seq`;
export const CHAIN_KEYING_SQL = 'SELECT key_id AS keyId, keyed_from_seq AS keyedFromSeq FROM audit_chain WHERE id = 1';

/** Brings the audit tables up to date. */
export function migrateAuditLog(db: SqliteDatabase): void {
  runMigrations(db, 'audit', MIGRATIONS);
}

/** The keying the database records (migrating first), or undefined when its chain was never keyed. */
export function chainKeying(db: SqliteDatabase): ChainKeying | undefined {
  migrateAuditLog(db);
  return db.prepare(CHAIN_KEYING_SQL).get() as ChainKeying | undefined;
}

export interface SqliteAuditLogOptions {
  now?: () => number;
  /**
   * The chain's key. Required for a database on disk; an in-memory database (tests) without one
   * gets a random key that dies with the process.
   */
  key?: AuditKey;
  /** The anchor file `verify()` checks; without one, a cut-off tail is not detected. */
  anchors?: Pick<AnchorFile, 'path' | 'readLines'>;
  /**
   * Called after each recorded event, possibly inside the caller's transaction (which may still
   * roll back): count, do no I/O. The anchoring hangs here.
   */
  onRecorded?: (event: AuditEvent) => void;
}

export class SqliteAuditLog implements AuditLog {
  /** Events from this sequence number on are keyed; before it, legacy (see event-hash.ts). */
  readonly keyedFromSeq: number;
  readonly keyId: string;
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly key: AuditKey;
  private readonly anchors: Pick<AnchorFile, 'path' | 'readLines'> | undefined;
  private readonly onRecorded: (event: AuditEvent) => void;
  private readonly appendTx: (input: AuditEventInput) => AuditEvent;
  private readonly lastStatement: { get(): unknown };

  constructor(db: SqliteDatabase, options: SqliteAuditLogOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    if (options.key === undefined && !db.memory) {
      throw new AuditError('audit_key_required', `the audit log of ${db.name} needs its key file (see audit.keyFile)`);
    }
    this.key = options.key ?? ephemeralAuditKey();
    this.keyId = this.key.id;
    this.anchors = options.anchors;
    this.onRecorded = options.onRecorded ?? (() => undefined);
    migrateAuditLog(db);
    const last = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    this.lastStatement = last;
    const insert = db.prepare(`INSERT INTO audit_events (seq, at, actor, action, target, detail, prev_hash, hash)
      VALUES (@seq, @at, @actor, @action, @target, @detail, @prevHash, @hash)`);
    const append = (input: AuditEventInput): AuditEvent => {
      const prev = last.get() as { seq: number; hash: string } | undefined;
      // The detail is stored as its canonical text and hashed as what that text parses back to,
      // so verify() recomputes exactly the same bytes.
      const detailText = canonicalJson(input.detail ?? {});
      const unhashed = {
        seq: (prev?.seq ?? 0) + 1,
        at: this.now(),
        actor: input.actor,
        action: input.action,
        target: input.target,
        detail: JSON.parse(detailText) as Record<string, unknown>,
        prevHash: prev?.hash ?? GENESIS_HASH,
      };
      const event: AuditEvent = { ...unhashed, hash: keyedEventHash(this.key, unhashed) };
      insert.run({ ...event, detail: detailText });
      return event;
    };
    const tx = db.transaction(append);
    // IMMEDIATE: take the write lock before reading the chain's tail, so two connections to the
    // same file cannot both append after the same event.
    this.appendTx = (input) => tx.immediate(input);
    this.keyedFromSeq = this.adoptKey(append);
  }

  record(event: AuditEventInput): AuditEvent {
    const stored = this.appendTx(event);
    this.onRecorded(stored);
    return stored;
  }

  /** Events in sequence order, after `afterSeq` (default 0), at most `limit` (default 100, max 1000). */
  list(options: AuditListOptions = {}): AuditEvent[] {
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? DEFAULT_AUDIT_PAGE)), MAX_AUDIT_PAGE);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (options.newestFirst) {
      where.push('seq < ?');
      args.push(Math.trunc(options.beforeSeq ?? Number.MAX_SAFE_INTEGER));
    } else {
      where.push('seq > ?');
      args.push(Math.max(0, Math.trunc(options.afterSeq ?? 0)));
    }
    if (options.target !== undefined) { where.push('target = ?'); args.push(options.target); }
    if (options.actor !== undefined) { where.push('actor = ?'); args.push(options.actor); }
    // A prefix: `alarm.` is every alarm action. LIKE's wildcards in the prefix are taken literally.
    if (options.actionPrefix !== undefined) {
      where.push("action LIKE ? ESCAPE '\\'");
      args.push(`${options.actionPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    const sql = `SELECT * FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq ${options.newestFirst ? 'DESC' : 'ASC'} LIMIT ?`;
    return (this.db.prepare(sql).all(...args, limit) as AuditRow[]).map(toEvent);
  }

  /**
   * The last committed event (seq 0 and the genesis hash when empty), or undefined while this
   * connection is inside a transaction whose events may still roll back.
   */
  head(): ChainHead | undefined {
    if (this.db.inTransaction) return undefined;
    const row = this.lastStatement.get() as ChainHead | undefined;
    return row ?? { seq: 0, hash: GENESIS_HASH };
  }

  /** Walks the whole chain with the key and checks every anchor (see chain-verification.ts). */
  verify(): AuditVerification {
    const keying = this.db.prepare(CHAIN_KEYING_SQL).get() as ChainKeying | undefined;
    return verifyChain({
      events: this.db.prepare(STORED_EVENTS_SQL).iterate() as IterableIterator<StoredAuditEvent>,
      key: this.key,
      keying,
      ...(this.anchors ? { anchors: { file: this.anchors.path, lines: this.anchors.readLines() } } : {}),
    });
  }

  /**
   * Checks that the database's chain was written with this key, or adopts the key when it has
   * none yet. A database with legacy (unkeyed) events gets a first keyed event that names the
   * legacy head: its HMAC covers that hash, so re-chaining the legacy part breaks the link there.
   */
  private adoptKey(append: (input: AuditEventInput) => AuditEvent): number {
    const read = () => this.db.prepare(CHAIN_KEYING_SQL).get() as ChainKeying | undefined;
    const adopt = this.db.transaction((): ChainKeying => {
      const existing = read();
      if (existing) return existing;
      const head = this.lastStatement.get() as ChainHead | undefined;
      const keyedFromSeq = (head?.seq ?? 0) + 1;
      this.db.prepare('INSERT INTO audit_chain (id, key_id, keyed_from_seq, adopted_at) VALUES (1, ?, ?, ?)')
        .run(this.key.id, keyedFromSeq, this.now());
      if (head) {
        append({
          actor: 'system', action: 'audit.chain.keyed', target: 'audit',
          detail: { legacyEvents: head.seq, legacyHeadHash: head.hash, keyId: this.key.id },
        });
      }
      return { keyId: this.key.id, keyedFromSeq };
    });
    const keying = adopt.immediate();
    if (keying.keyId !== this.key.id) {
      throw new AuditError('audit_key_mismatch', `this is not the key the audit chain of ${this.db.name} was written with `
        + `(the database records key id ${keying.keyId}, the key given has id ${this.key.id})`, { expectedKeyId: keying.keyId, keyId: this.key.id });
    }
    return keying.keyedFromSeq;
  }
}
