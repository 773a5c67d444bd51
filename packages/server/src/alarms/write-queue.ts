/**
 * Ordered, asynchronous persistence for a service that decides in memory (the alarm engine
 * evaluates every stored sample synchronously and must not wait for the database).
 *
 * Writes run one batch at a time, in the order they were queued, each batch in one unit of work:
 * a write's rows never land before those of the writes queued ahead of it. A batch that fails is
 * reported and retried after a backoff on the injected clock, and nothing behind it runs until it
 * has committed, so the order holds across database outages too. `close()` stops accepting
 * writes and drains the queue; from then on a batch that fails is not retried: it and everything
 * behind it are dropped and reported (`final`), so stopping always ends.
 */
import type { Clock, TimerHandle } from '@shellguard/protocol';
import type { UnitOfWork } from '../db/unit-of-work.ts';

export interface WriteFailure {
  /** Consecutive failed attempts at the batch at the head of the queue. */
  attempt: number;
  /** Writes waiting, the failed batch included. */
  pending: number;
  /** True when the writes were dropped (the queue is closing); otherwise they are retried. */
  final: boolean;
}

export interface WriteQueueOptions<Stores> {
  unitOfWork: UnitOfWork<Stores>;
  clock: Clock;
  onError: (err: unknown, failure: WriteFailure) => void;
  /** First retry delay, doubled per failed attempt up to `maxRetryMs` (default 100 ms, 30 s). */
  baseRetryMs?: number;
  maxRetryMs?: number;
  /** Writes per transaction at most (default 256): a burst of changes costs one commit. */
  maxBatch?: number;
}

interface Job<Stores> {
  write: (stores: Stores) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Thrown by a write that must never be retried (its transaction could only fail again, e.g. an
 * effect another replica already stored): its batch rolls back, that write alone is dropped and
 * its caller's promise rejects with this error, and the others are committed without it.
 */
export class RefusedWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedWriteError';
  }
}

export class WriteQueueClosedError extends Error {
  constructor() {
    super('the write queue is closed: the service has stopped');
    this.name = 'WriteQueueClosedError';
  }
}

export class OrderedWriteQueue<Stores> {
  private readonly uow: UnitOfWork<Stores>;
  private readonly clock: Clock;
  private readonly onError: (err: unknown, failure: WriteFailure) => void;
  private readonly baseRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly maxBatch: number;
  private readonly jobs: Job<Stores>[] = [];
  private draining: Promise<void> | undefined;
  private retryTimer: TimerHandle | undefined;
  private wakeRetry: (() => void) | undefined;
  private closed = false;
  private queued = 0;
  private done = 0;
  private readonly waiters: { until: number; resolve: () => void }[] = [];

  constructor(options: WriteQueueOptions<Stores>) {
    this.uow = options.unitOfWork;
    this.clock = options.clock;
    this.onError = options.onError;
    this.baseRetryMs = options.baseRetryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 30_000;
    this.maxBatch = Math.max(1, options.maxBatch ?? 256);
  }

  /** Writes waiting or running. */
  get pending(): number {
    return this.jobs.length;
  }

  /**
   * Queues `write`; resolves with its result once its batch has committed. `write` runs inside the
   * batch's transaction and may run again after a failure: it must only use `stores`.
   */
  enqueue<T>(write: (stores: Stores) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new WriteQueueClosedError());
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({ write, resolve: resolve as (value: unknown) => void, reject });
      this.queued++;
      // Started on the next microtask, so the writes queued by one synchronous pass share a commit.
      this.draining ??= Promise.resolve().then(() => this.drain());
    });
  }

  /** Resolves once every write queued so far has committed or been dropped. */
  settled(): Promise<void> {
    if (this.done >= this.queued) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ until: this.queued, resolve }));
  }

  /** Stops accepting writes and resolves once the queue is empty (see the file comment). */
  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    await this.draining;
  }

  private async drain(): Promise<void> {
    let attempt = 0;
    while (this.jobs.length > 0) {
      const batch = this.jobs.slice(0, this.maxBatch);
      let refused: { index: number; err: RefusedWriteError } | undefined;
      try {
        const results = await this.uow.run(async (stores) => {
          const out: unknown[] = [];
          for (const [index, job] of batch.entries()) {
            try {
              out.push(await job.write(stores));
            } catch (err) {
              if (err instanceof RefusedWriteError) refused = { index, err };
              throw err;
            }
          }
          return out;
        });
        this.jobs.splice(0, batch.length);
        attempt = 0;
        batch.forEach((job, i) => job.resolve(results[i]));
        this.finished(batch.length);
      } catch (err) {
        if (refused) {
          // That write alone is dropped; the rest of the batch is tried again at once.
          const [job] = this.jobs.splice(refused.index, 1);
          job!.reject(refused.err);
          this.finished(1);
          this.report(refused.err, { attempt: 1, pending: this.jobs.length, final: true });
          continue;
        }
        attempt++;
        const final = this.closed;
        this.report(err, { attempt, pending: this.jobs.length, final });
        if (final) {
          const dropped = this.jobs.splice(0);
          for (const job of dropped) job.reject(err);
          this.finished(dropped.length);
          break;
        }
        await this.pause(Math.min(this.maxRetryMs, this.baseRetryMs * 2 ** (attempt - 1)));
      }
    }
    this.draining = undefined;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = () => {
        this.wakeRetry = undefined;
        this.retryTimer = undefined;
        resolve();
      };
      this.retryTimer = this.clock.setTimeout(this.wakeRetry, ms).unref();
    });
  }

  private finished(count: number): void {
    this.done += count;
    const due = this.waiters.filter((w) => this.done >= w.until);
    if (due.length === 0) return;
    this.waiters.splice(0, this.waiters.length, ...this.waiters.filter((w) => this.done < w.until));
    for (const w of due) w.resolve();
  }

  private report(err: unknown, failure: WriteFailure): void {
    try {
      this.onError(err, failure);
    } catch {
      // A failing reporter must not stop the queue.
    }
  }
}
