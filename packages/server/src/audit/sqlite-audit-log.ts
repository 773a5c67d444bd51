/**
 * The audit log in the server's SQLite database: an append-only, hash-chained table.
 *
 * hash(n) = SHA-256(canonical JSON of { seq, at, actor, action, target, detail, prevHash }), with
 * prevHash = hash(n-1) and 64 zeros for the first event. Triggers refuse UPDATE and DELETE on the
 * table, so no code path through this database (a bug included) can rewrite history; someone with
 * the file and a SQLite shell still can, and `verify()` then says from which event on.
 */
import { createHash } from 'node:crypto';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import type { AuditEvent, AuditEventInput, AuditLog, AuditVerification } from './audit-log.ts';
import { canonicalJson } from './canonical-json.ts';

export const GENESIS_HASH = '0'.repeat(64);
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
];

interface AuditRow {
  seq: number; at: number; actor: string; action: string; target: string; detail: string; prev_hash: string; hash: string;
}

/** The hash of an event: covers every field and the previous event's hash. */
export function auditEventHash(event: Omit<AuditEvent, 'hash'>): string {
  const { seq, at, actor, action, target, detail, prevHash } = event;
  return createHash('sha256').update(canonicalJson({ seq, at, actor, action, target, detail, prevHash }), 'utf8').digest('hex');
}

function toEvent(row: AuditRow): AuditEvent {
  return {
    seq: row.seq, at: row.at, actor: row.actor, action: row.action, target: row.target,
    detail: JSON.parse(row.detail) as Record<string, unknown>, prevHash: row.prev_hash, hash: row.hash,
  };
}

export interface SqliteAuditLogOptions {
  now?: () => number;
}

export class SqliteAuditLog implements AuditLog {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly appendTx: (input: AuditEventInput) => AuditEvent;

  constructor(db: SqliteDatabase, options: SqliteAuditLogOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    runMigrations(db, 'audit', MIGRATIONS);
    const last = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    const insert = db.prepare(`INSERT INTO audit_events (seq, at, actor, action, target, detail, prev_hash, hash)
      VALUES (@seq, @at, @actor, @action, @target, @detail, @prevHash, @hash)`);
    const tx = db.transaction((input: AuditEventInput): AuditEvent => {
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
      const event: AuditEvent = { ...unhashed, hash: auditEventHash(unhashed) };
      insert.run({ ...event, detail: detailText });
      return event;
    });
    // IMMEDIATE: take the write lock before reading the chain's tail, so two connections to the
    // same file cannot both append after the same event.
    this.appendTx = (input) => tx.immediate(input);
  }

  record(event: AuditEventInput): AuditEvent {
    return this.appendTx(event);
  }

  /** Events in sequence order, after `afterSeq` (default 0), at most `limit` (default 100, max 1000). */
  list(options: { afterSeq?: number; limit?: number; target?: string } = {}): AuditEvent[] {
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? DEFAULT_AUDIT_PAGE)), MAX_AUDIT_PAGE);
    const afterSeq = Math.max(0, Math.trunc(options.afterSeq ?? 0));
    const rows = options.target === undefined
      ? this.db.prepare('SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit)
      : this.db.prepare('SELECT * FROM audit_events WHERE target = ? AND seq > ? ORDER BY seq LIMIT ?')
        .all(options.target, afterSeq, limit);
    return (rows as AuditRow[]).map(toEvent);
  }

  /**
   * Walks the whole chain: sequence numbers without gaps from 1, each prevHash equal to the
   * previous hash, each hash equal to the recomputed one. `brokenAt` is the first event that fails.
   * (Cutting events off the end leaves a valid, shorter chain: compare `events` and the last hash
   * with a copy kept elsewhere to detect that.)
   */
  verify(): AuditVerification {
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let events = 0;
    let brokenAt: number | undefined;
    for (const row of this.db.prepare('SELECT * FROM audit_events ORDER BY seq').iterate() as IterableIterator<AuditRow>) {
      events++;
      let intact = row.seq === expectedSeq && row.prev_hash === prevHash;
      if (intact) {
        try {
          intact = auditEventHash({ ...toEvent(row) }) === row.hash;
        } catch {
          intact = false; // detail is no longer JSON
        }
      }
      if (!intact) {
        brokenAt = Math.min(row.seq, expectedSeq);
        break; // the iterator must be closed before the connection runs another statement
      }
      prevHash = row.hash;
      expectedSeq++;
    }
    return brokenAt === undefined ? { ok: true, events } : { ok: false, events: this.count(), brokenAt };
  }

  private count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  }
}
