import { describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import type { UnitOfWork } from '../../src/db/unit-of-work.ts';
import { OrderedWriteQueue, RefusedWriteError, WriteQueueClosedError, type WriteFailure } from '../../src/alarms/write-queue.ts';

/** A unit of work over an in-memory list: a transaction's rows land only when it commits. */
class ListUnitOfWork implements UnitOfWork<{ add: (row: string) => Promise<string> }> {
  readonly rows: string[] = [];
  readonly commits: string[][] = [];
  /** Commits to fail from now on. */
  failing = 0;

  async run<T>(work: (stores: { add: (row: string) => Promise<string> }) => Promise<T>): Promise<T> {
    const pending: string[] = [];
    const result = await work({ add: async (row) => { pending.push(row); return row.toUpperCase(); } });
    if (this.failing > 0) {
      this.failing--;
      throw new Error('database unreachable');
    }
    this.rows.push(...pending);
    this.commits.push(pending);
    return result;
  }
}

const turns = async (n = 5) => { for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve)); };

function queue(uow: ListUnitOfWork, failures: WriteFailure[] = [], maxBatch?: number) {
  const clock = new ManualClock(0);
  const q = new OrderedWriteQueue({
    unitOfWork: uow, clock, onError: (_err, f) => failures.push(f), baseRetryMs: 100, maxRetryMs: 400,
    ...(maxBatch !== undefined ? { maxBatch } : {}),
  });
  return { q, clock };
}

describe('OrderedWriteQueue', () => {
  it('commits the writes of one synchronous pass together, in order, and resolves each with its result', async () => {
    const uow = new ListUnitOfWork();
    const { q } = queue(uow);
    const results = ['a', 'b', 'c'].map((row) => q.enqueue((s) => s.add(row)));
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C']);
    expect(uow.commits).toEqual([['a', 'b', 'c']]);
  });

  it('drops only a write that refuses itself, commits the rest of its batch without it, and never retries it', async () => {
    const uow = new ListUnitOfWork();
    const failures: WriteFailure[] = [];
    const { q } = queue(uow, failures);
    const a = q.enqueue((s) => s.add('a'));
    const refused = q.enqueue(async (s) => {
      await s.add('b');
      throw new RefusedWriteError('stored elsewhere first');
    });
    const c = q.enqueue((s) => s.add('c'));
    await expect(refused).rejects.toThrow(RefusedWriteError);
    expect(await Promise.all([a, c])).toEqual(['A', 'C']);
    // Its rows rolled back with the first try; then the others committed together, at once.
    expect(uow.commits).toEqual([['a', 'c']]);
    expect(uow.rows).toEqual(['a', 'c']);
    expect(failures).toEqual([{ attempt: 1, pending: 2, final: true }]);
    await q.settled();
  });

  it('splits long runs into batches of at most maxBatch, keeping the order', async () => {
    const uow = new ListUnitOfWork();
    const { q } = queue(uow, [], 2);
    for (const row of ['a', 'b', 'c', 'd', 'e']) void q.enqueue((s) => s.add(row));
    await q.settled();
    expect(uow.commits).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('retries a failed batch after a growing backoff, and runs nothing behind it until it has committed', async () => {
    const uow = new ListUnitOfWork();
    const failures: WriteFailure[] = [];
    const { q, clock } = queue(uow, failures);
    uow.failing = 3;
    const first = q.enqueue((s) => s.add('first'));
    await turns();
    const second = q.enqueue((s) => s.add('second'));
    expect(failures).toEqual([{ attempt: 1, pending: 1, final: false }]);
    expect(clock.dueTimes()).toEqual([100]);
    clock.advance(100);
    await turns();
    expect(clock.dueTimes()).toEqual([300]); // 100, then 200
    clock.advance(200);
    await turns();
    expect(clock.dueTimes()).toEqual([700]); // capped at 400
    expect(uow.rows).toEqual([]);
    clock.advance(400);
    expect(await first).toBe('FIRST');
    expect(await second).toBe('SECOND');
    expect(uow.rows).toEqual(['first', 'second']);
    expect(failures.map((f) => f.attempt)).toEqual([1, 2, 3]);
    expect(q.pending).toBe(0);
  });

  it('settles once everything queued before has committed, not waiting for later writes', async () => {
    const uow = new ListUnitOfWork();
    const { q } = queue(uow);
    void q.enqueue((s) => s.add('a'));
    const settled = q.settled();
    void q.enqueue((s) => s.add('b'));
    await settled;
    expect(uow.rows).toContain('a');
    await expect(q.settled()).resolves.toBeUndefined();
  });

  it('drains on close: a batch that fails then is dropped with everything behind it, and reported final', async () => {
    const uow = new ListUnitOfWork();
    const failures: WriteFailure[] = [];
    const { q, clock } = queue(uow, failures, 1);
    uow.failing = 10;
    const a = q.enqueue((s) => s.add('a'));
    const b = q.enqueue((s) => s.add('b'));
    await turns();
    await q.close();
    await expect(a).rejects.toThrow('database unreachable');
    await expect(b).rejects.toThrow('database unreachable');
    expect(failures).toEqual([{ attempt: 1, pending: 2, final: false }, { attempt: 2, pending: 2, final: true }]);
    expect(clock.dueTimes()).toEqual([]);
    await expect(q.enqueue((s) => s.add('late'))).rejects.toBeInstanceOf(WriteQueueClosedError);
    expect(uow.rows).toEqual([]);
  });

  it('commits what is queued when it closes while the database works', async () => {
    const uow = new ListUnitOfWork();
    const { q } = queue(uow);
    const a = q.enqueue((s) => s.add('a'));
    await q.close();
    expect(await a).toBe('A');
    expect(uow.rows).toEqual(['a']);
  });
});
