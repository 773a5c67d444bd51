/**
 * A unit of work whose runs queued in one turn of the event loop share one transaction: one
 * commit (one WAL append on SQLite, one round of fsync on PostgreSQL) for a burst of enrolments
 * instead of one each. Each run sees the writes of those queued before it.
 *
 * The price: a run that throws rolls the whole batch back, and every run in it rejects with that
 * error. Use it for work that reports outcomes by value and throws only when the database fails.
 */
import type { UnitOfWork } from '../db/unit-of-work.ts';

interface Queued<Stores> {
  work: (stores: Stores) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class CoalescingUnitOfWork<Stores> implements UnitOfWork<Stores> {
  private queued: Queued<Stores>[] = [];

  constructor(private readonly inner: UnitOfWork<Stores>) {}

  run<T>(work: (stores: Stores) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(() => void this.flush());
      this.queued.push({ work, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    try {
      const results = await this.inner.run(async (stores) => {
        const out: unknown[] = [];
        for (const q of batch) out.push(await q.work(stores));
        return out;
      });
      batch.forEach((q, i) => q.resolve(results[i]));
    } catch (err) {
      for (const q of batch) q.reject(err);
    }
  }
}
