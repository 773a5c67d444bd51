/**
 * The store-and-forward queue (ARCHITECTURE.md §3). Every poll result becomes a batch with a
 * durable sequence number, written to SQLite before anything is sent. A batch leaves the queue
 * only when the server says it durably stored it (or refused it for good, then it is set aside,
 * never silently dropped). Telemetry therefore survives network outages, server and broker
 * restarts and a crash of the guardian itself.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { ShellguardError, type Sample } from '@shellguard/protocol';

export interface QueuedBatch {
  seq: number;
  asset: string;
  samples: Sample[];
  createdAt: number;
}

export interface OutboxOptions {
  /** Most batches kept while the server is unreachable; beyond it, the oldest are moved to overflow accounting. */
  maxBatches?: number;
}

export class QueueError extends ShellguardError {}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS queue_identity (epoch TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  asset TEXT NOT NULL,
  samples TEXT NOT NULL,
  sample_count INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
  seq INTEGER PRIMARY KEY,
  asset TEXT NOT NULL,
  samples TEXT NOT NULL,
  reason TEXT NOT NULL,
  rejected_at INTEGER NOT NULL
);
`;

export interface OutboxStats {
  pendingBatches: number;
  pendingSamples: number;
  rejectedBatches: number;
  /** Batches discarded because the queue was full (each one is logged when it happens). */
  overflowedBatches: number;
  nextSeq: number;
  epoch: string;
}

export class Outbox {
  /**
   * This queue's epoch: made once, with the queue file. The server de-duplicates batches by
   * (device, epoch, seq), so a new queue for the same identity (a reinstall, a lost disk) is a
   * new sequence space and its seq 1 is never mistaken for a redelivery of the old queue's seq 1.
   * A queue file from before epochs keeps the legacy epoch '' (its batches are already known to
   * the server under it).
   */
  readonly epoch: string;
  private readonly db: Database.Database;
  private readonly maxBatches: number;
  private readonly stmts;
  private pendingBatches: number;
  private pendingSamples: number;

  constructor(file: string, options: OutboxOptions = {}) {
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new QueueError('queue_open_failed', `cannot open the telemetry queue at ${file}: ${(err as Error).message}. Check that the data directory exists and is writable.`, { file });
    }
    // WAL + synchronous=NORMAL: a committed batch survives a crash of this process (kill -9);
    // only an OS crash or power cut could lose the last transactions, and those batches were
    // not yet acknowledged by anyone, so nothing already promised is lost.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.maxBatches = options.maxBatches ?? 5_000_000;
    this.stmts = {
      getMeta: this.db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare<[string, number]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      insert: this.db.prepare<[number, string, string, number, number]>('INSERT INTO outbox (seq, asset, samples, sample_count, created_at) VALUES (?, ?, ?, ?, ?)'),
      peek: this.db.prepare<[number, number], { seq: number; asset: string; samples: string; created_at: number }>(
        'SELECT seq, asset, samples, created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      get: this.db.prepare<[number], { seq: number; asset: string; samples: string; sample_count: number; created_at: number }>(
        'SELECT seq, asset, samples, sample_count, created_at FROM outbox WHERE seq = ?'),
      remove: this.db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?'),
      reject: this.db.prepare<[number, string, string, string, number]>(
        'INSERT OR REPLACE INTO rejected (seq, asset, samples, reason, rejected_at) VALUES (?, ?, ?, ?, ?)'),
      oldest: this.db.prepare<[], { seq: number; sample_count: number }>('SELECT seq, sample_count FROM outbox ORDER BY seq LIMIT 1'),
      counts: this.db.prepare<[], { n: number; s: number | null }>('SELECT count(*) AS n, sum(sample_count) AS s FROM outbox'),
      rejectedCount: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM rejected'),
    };
    const c = this.stmts.counts.get()!;
    this.pendingBatches = c.n;
    this.pendingSamples = c.s ?? 0;
    this.epoch = this.db.transaction(() => {
      const row = this.db.prepare<[], { epoch: string }>('SELECT epoch FROM queue_identity LIMIT 1').get();
      if (row) return row.epoch;
      // A queue that already numbered batches, made before epochs: keep the legacy epoch.
      const epoch = this.meta('next_seq') === undefined ? randomBytes(16).toString('base64url') : '';
      this.db.prepare('INSERT INTO queue_identity (epoch, created_at) VALUES (?, ?)').run(epoch, Date.now());
      if (this.meta('next_seq') === undefined) this.stmts.setMeta.run('next_seq', 1);
      return epoch;
    }).immediate();
  }

  private meta(key: string): number | undefined {
    return this.stmts.getMeta.get(key)?.value;
  }

  /**
   * Durably queues samples as one new batch; returns its sequence number. The sequence and the
   * batch are written in one transaction, so a sequence number is never given to two batches.
   * Returns the overflowed batch (if the queue was full) so the caller can log it.
   */
  enqueue(asset: string, samples: Sample[], now: number): { seq: number; overflowed?: { seq: number; samples: number } } {
    let overflowed: { seq: number; samples: number } | undefined;
    const seq = this.db.transaction(() => {
      const next = this.meta('next_seq')!;
      this.stmts.insert.run(next, asset, JSON.stringify(samples), samples.length, now);
      this.stmts.setMeta.run('next_seq', next + 1);
      if (this.pendingBatches + 1 > this.maxBatches) {
        const oldest = this.stmts.oldest.get()!;
        this.stmts.remove.run(oldest.seq);
        this.stmts.setMeta.run('overflowed', (this.meta('overflowed') ?? 0) + 1);
        overflowed = { seq: oldest.seq, samples: oldest.sample_count };
      }
      return next;
    }).immediate();
    this.pendingBatches += 1;
    this.pendingSamples += samples.length;
    if (overflowed) {
      this.pendingBatches -= 1;
      this.pendingSamples -= overflowed.samples;
    }
    return overflowed ? { seq, overflowed } : { seq };
  }

  /** Up to `limit` batches with seq greater than `afterSeq`, oldest first. */
  peek(afterSeq: number, limit: number): QueuedBatch[] {
    return this.stmts.peek.all(afterSeq, limit).map((r) => ({
      seq: r.seq, asset: r.asset, samples: JSON.parse(r.samples) as Sample[], createdAt: r.created_at,
    }));
  }

  /** One queued batch, if it is still waiting for the server. */
  find(seq: number): QueuedBatch | undefined {
    const r = this.stmts.get.get(seq);
    return r && { seq: r.seq, asset: r.asset, samples: JSON.parse(r.samples) as Sample[], createdAt: r.created_at };
  }

  /** The server stored these batches: forget them. Unknown seqs (already removed) are ignored. */
  acknowledge(seqs: readonly number[]): number {
    let removed = 0;
    this.db.transaction(() => {
      for (const seq of seqs) {
        const row = this.stmts.get.get(seq);
        if (!row) continue;
        this.stmts.remove.run(seq);
        removed += 1;
        this.pendingBatches -= 1;
        this.pendingSamples -= row.sample_count;
      }
    })();
    return removed;
  }

  /** The server will never store these batches: keep them aside for an engineer, stop sending them. */
  setAside(rejections: readonly { seq: number; reason: string }[], now: number): number {
    let moved = 0;
    this.db.transaction(() => {
      for (const r of rejections) {
        const row = this.stmts.get.get(r.seq);
        if (!row) continue;
        this.stmts.reject.run(row.seq, row.asset, row.samples, r.reason, now);
        this.stmts.remove.run(row.seq);
        moved += 1;
        this.pendingBatches -= 1;
        this.pendingSamples -= row.sample_count;
      }
    })();
    return moved;
  }

  /** Sparkplug birth/death sequence (spec §7.1): incremented on every new MQTT session. */
  nextBdSeq(): number {
    return this.db.transaction(() => {
      const bd = ((this.meta('bd_seq') ?? -1) + 1) % 256;
      this.stmts.setMeta.run('bd_seq', bd);
      return bd;
    })();
  }

  stats(): OutboxStats {
    return {
      pendingBatches: this.pendingBatches,
      pendingSamples: this.pendingSamples,
      rejectedBatches: this.stmts.rejectedCount.get()!.n,
      overflowedBatches: this.meta('overflowed') ?? 0,
      nextSeq: this.meta('next_seq')!,
      epoch: this.epoch,
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
