import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../app/api-types.ts';
import { newestPage, pageAfter, pageBefore, type AuditListQuery, type ListAudit } from './audit-pages.ts';

/** GET /audit over an in-memory log, answering as sqlite-audit-log.ts does; records the queries. */
function memoryLog(seqs: number[], actorOf: (seq: number) => string = () => 'system') {
  const events: AuditEvent[] = seqs.map((seq) => ({
    seq, at: seq * 1000, actor: actorOf(seq), action: seq % 2 === 0 ? 'alarm.acknowledge' : 'device.claim', target: `t:${seq % 3}`, detail: {}, prevHash: '', hash: '',
  }));
  const calls: AuditListQuery[] = [];
  const list: ListAudit = async (q) => {
    calls.push(q);
    const match = events.filter((e) => (q.target === undefined || e.target === q.target) && (q.actor === undefined || e.actor === q.actor)
      && (q.action === undefined || e.action.startsWith(q.action)));
    return q.order === 'desc'
      ? match.filter((e) => e.seq < (q.beforeSeq ?? Infinity)).reverse().slice(0, q.limit)
      : match.filter((e) => e.seq > (q.afterSeq ?? 0)).slice(0, q.limit);
  };
  return { list, calls };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqsOf = (events: AuditEvent[]) => events.map((e) => e.seq);

describe('audit pages', () => {
  it('shows the newest page first, in one request, and knows whether older events exist', async () => {
    const log = memoryLog(range(1, 250));
    const page = await newestPage(log.list, 100);
    expect(seqsOf(page.events)).toEqual(range(151, 250).reverse());
    expect(page).toMatchObject({ hasOlder: true, hasNewer: false });
    expect(log.calls).toEqual([{ order: 'desc', limit: 101 }]);
    expect(await newestPage(memoryLog([]).list, 100)).toEqual({ events: [], hasOlder: false, hasNewer: false });
    expect((await newestPage(memoryLog(range(1, 100)).list, 100)).hasOlder).toBe(false);
  });

  it('walks back with Older and forward with Newer over gaps, newest first on every page', async () => {
    const seqs = range(1, 1000).filter((s) => s % 7 !== 0);
    const log = memoryLog(seqs);
    const newest = await newestPage(log.list, 50);
    const older = await pageBefore(log.list, newest.events.at(-1)!.seq, 50);
    expect(seqsOf(older.events)).toEqual(seqs.filter((s) => s < newest.events.at(-1)!.seq).slice(-50).reverse());
    expect(older).toMatchObject({ hasOlder: true, hasNewer: true });
    const back = await pageAfter(log.list, older.events[0]!.seq, 50);
    expect(seqsOf(back.events)).toEqual(seqsOf(newest.events));
    expect(back.hasNewer).toBe(false);
    const first = await pageBefore(log.list, 10, 50);
    expect(seqsOf(first.events)).toEqual([9, 8, 6, 5, 4, 3, 2, 1]);
    expect(first.hasOlder).toBe(false);
  });

  it('passes target, actor and action to the server rather than filtering a page', async () => {
    const log = memoryLog(range(1, 300), (s) => (s % 10 === 0 ? 'user:alice' : 'system'));
    const page = await newestPage(log.list, 20, { actor: 'user:alice', action: 'alarm.' });
    expect(seqsOf(page.events)).toEqual(range(1, 300).filter((s) => s % 10 === 0).reverse().slice(0, 20));
    expect(log.calls[0]).toEqual({ order: 'desc', limit: 21, actor: 'user:alice', action: 'alarm.' });
  });

  it('refuses a page size the server cannot answer in one request', async () => {
    await expect(newestPage(memoryLog([]).list, 1000)).rejects.toThrow(RangeError);
  });
});
