/**
 * Looking into a guardian's durable queue (`<dataDir>/queue.sqlite`) from outside the process.
 *
 * The ledger: before the guardian first starts, the test creates its queue with the guardian's
 * own Outbox (so the schema is the real one) and adds a trigger that copies every batch inserted
 * into `outbox` to a `system_test_ledger` table. The trigger runs inside the guardian's own
 * enqueue transaction, so the ledger holds exactly the batches the guardian committed, however it
 * later dies, and keeps them after the ack deletes them from `outbox`. It only observes: the
 * guardian neither reads nor knows the table.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Outbox } from '@shellguard/guardian';
import type { Sample } from '@shellguard/protocol';

export interface QueueState {
  /** The seq the guardian will give its next batch. */
  nextSeq: number;
  pendingBatches: number;
  /** Lowest seq still waiting for the server's ack, if any. */
  lowestPendingSeq: number | undefined;
  rejectedBatches: number;
  overflowedBatches: number;
}

export interface LedgerBatch {
  seq: number;
  asset: string;
  sampleCount: number;
  samples: Sample[];
}

export function queueFile(dataDir: string): string {
  return path.join(dataDir, 'queue.sqlite');
}

export function installBatchLedger(dataDir: string): void {
  new Outbox(queueFile(dataDir)).close();
  const db = new Database(queueFile(dataDir));
  try {
    db.exec(`
      CREATE TABLE system_test_ledger (
        seq INTEGER NOT NULL,
        asset TEXT NOT NULL,
        samples TEXT NOT NULL,
        sample_count INTEGER NOT NULL
      );
      CREATE TRIGGER system_test_ledger_on_enqueue AFTER INSERT ON outbox BEGIN
        INSERT INTO system_test_ledger (seq, asset, samples, sample_count)
        VALUES (NEW.seq, NEW.asset, NEW.samples, NEW.sample_count);
      END;
    `);
  } finally {
    db.close();
  }
}

function openReadOnly(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true, timeout: 5_000 });
}

export function readQueueState(dataDir: string): QueueState {
  const db = openReadOnly(queueFile(dataDir));
  try {
    const meta = (key: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: number } | undefined)?.value;
    const pending = db.prepare('SELECT count(*) AS n, min(seq) AS low FROM outbox').get() as { n: number; low: number | null };
    const rejected = db.prepare('SELECT count(*) AS n FROM rejected').get() as { n: number };
    return {
      nextSeq: meta('next_seq') ?? 1,
      pendingBatches: pending.n,
      lowestPendingSeq: pending.low ?? undefined,
      rejectedBatches: rejected.n,
      overflowedBatches: meta('overflowed') ?? 0,
    };
  } finally {
    db.close();
  }
}

/** True when every batch with seq below `seq` has left the queue (acknowledged, or set aside). */
export function settledBelow(dataDir: string, seq: number): boolean {
  const { lowestPendingSeq } = readQueueState(dataDir);
  return lowestPendingSeq === undefined || lowestPendingSeq >= seq;
}

export function readLedger(dataDir: string): LedgerBatch[] {
  if (!existsSync(queueFile(dataDir))) return [];
  const db = openReadOnly(queueFile(dataDir));
  try {
    const rows = db.prepare('SELECT seq, asset, samples, sample_count FROM system_test_ledger ORDER BY rowid').all() as {
      seq: number; asset: string; samples: string; sample_count: number;
    }[];
    return rows.map((r) => ({ seq: r.seq, asset: r.asset, sampleCount: r.sample_count, samples: JSON.parse(r.samples) as Sample[] }));
  } finally {
    db.close();
  }
}
