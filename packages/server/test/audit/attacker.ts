/**
 * What the outside review did to the audit log, written the way an attacker with the database file
 * and a SQLite shell would (about 30 lines of Python in the review): drop the triggers, change
 * rows, recompute the chain forward. It uses none of the server's audit code on purpose.
 */
import { createHash, createHmac } from 'node:crypto';
import Database from 'better-sqlite3';

type Db = Database.Database;
export type HashFn = (content: string) => string;

/** The pre-keying algorithm: plain SHA-256 over sorted-key JSON. */
export const sha256Chain: HashFn = (content) => createHash('sha256').update(content).digest('hex');

/** An HMAC under a key the attacker guessed, with the label read from the source code. */
export function guessedKeyChain(guess: Buffer): HashFn {
  return (content) => createHmac('sha256', guess).update(`shellguard/audit-event/v1\n${content}`).digest('hex');
}

function sortedJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${sortedJson(o[k])}`).join(',')}}`;
}

interface Row { seq: number; at: number; actor: string; action: string; target: string; detail: string; prev_hash: string; hash: string }

/** Opens the server's database file directly and removes the append-only guard. */
export function openAsAttacker(file: string): Db {
  const db = new Database(file);
  db.exec('DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;');
  db.exec('DROP TRIGGER IF EXISTS audit_chain_no_update; DROP TRIGGER IF EXISTS audit_chain_no_delete;');
  return db;
}

/** Recomputes prev_hash and hash of every event from `fromSeq` on, so every link looks right again. */
export function rechain(db: Db, fromSeq: number, hash: HashFn): void {
  const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Row[];
  let prev = '0'.repeat(64);
  const update = db.prepare('UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const r of rows) {
    if (r.seq >= fromSeq) {
      const h = hash(sortedJson({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, target: r.target, detail: JSON.parse(r.detail), prevHash: prev }));
      update.run(prev, h, r.seq);
      prev = h;
    } else {
      prev = r.hash;
    }
  }
}

/** Deletes one event and shifts the later ones down, so no sequence number is missing. */
export function deleteAndRenumber(db: Db, seq: number): void {
  db.prepare('DELETE FROM audit_events WHERE seq = ?').run(seq);
  const later = db.prepare('SELECT seq FROM audit_events WHERE seq > ? ORDER BY seq').all(seq) as { seq: number }[];
  const move = db.prepare('UPDATE audit_events SET seq = ? WHERE seq = ?');
  for (const r of later) move.run(r.seq - 1, r.seq);
}

export function seqOf(db: Db, action: string): number {
  return (db.prepare('SELECT seq FROM audit_events WHERE action = ? ORDER BY seq LIMIT 1').get(action) as { seq: number }).seq;
}
