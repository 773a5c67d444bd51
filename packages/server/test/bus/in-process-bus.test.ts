/**
 * The embedded bus's timers on fake time: retry delay, the ack wait after a replica dies, and the
 * de-duplication window — the same rules JetStream applies, checked without waiting.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import type { BusMessage } from '../../src/bus/bus.ts';
import { InProcessBus } from '../../src/bus/in-process-bus.ts';
import { bytes, gate } from './support/eventually.ts';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('InProcessBus on fake time', () => {
  it('offers a failed message again only once the retry delay has passed', async () => {
    const clock = new ManualClock(1_000);
    const bus = new InProcessBus({ clock, retryDelayMs: 5_000 });
    const deliveries: number[] = [];
    await bus.work('g', ['a'], async (m) => {
      deliveries.push(m.deliveryCount);
      if (m.deliveryCount === 1) throw new Error('not yet');
    });
    await bus.publish('a', bytes('x'), { id: '1' });
    await settle();
    expect(deliveries).toEqual([1]);
    await clock.advanceAsync(4_999);
    expect(deliveries).toEqual([1]);
    await clock.advanceAsync(1);
    expect(deliveries).toEqual([1, 2]);
    await bus.close();
  });

  it('gives what a dead replica held to another after the ack wait, not before', async () => {
    const clock = new ManualClock(0);
    const dying = new InProcessBus({ clock, ackWaitMs: 30_000 });
    const survivor = dying.connectReplica();
    const wedged = gate();
    await dying.work('g', ['a'], async () => wedged.promise, { concurrency: 1 });
    await dying.publish('a', bytes('x'), { id: 'held' });
    await settle();
    const seen: BusMessage[] = [];
    await survivor.work('g', ['a'], async (m) => { seen.push(m); });
    await dying.abort();
    await clock.advanceAsync(29_999);
    expect(seen).toEqual([]);
    await clock.advanceAsync(1);
    expect(seen.map((m) => [m.id, m.deliveryCount])).toEqual([['held', 2]]);
    wedged.open();
    await survivor.close();
  });

  it('forgets an id once the duplicate window has passed', async () => {
    const clock = new ManualClock(0);
    const bus = new InProcessBus({ clock, duplicateWindowMs: 120_000 });
    expect((await bus.publish('a', bytes('1'), { id: 'x' })).duplicate).toBe(false);
    clock.advance(119_999);
    expect((await bus.publish('a', bytes('2'), { id: 'x' })).duplicate).toBe(true);
    clock.advance(1);
    expect((await bus.publish('a', bytes('3'), { id: 'x' })).duplicate).toBe(false);
    await bus.close();
  });

  it('keeps messages a group has not settled however many are published, and drops settled ones beyond the retention', async () => {
    const bus = new InProcessBus({ retainMessages: 10 });
    const release = gate();
    const handled: string[] = [];
    await bus.work('slow', ['a'], async (m) => { await release.promise; handled.push(m.id); }, { concurrency: 1 });
    for (let i = 0; i < 500; i++) await bus.publish('a', bytes(''), { id: `m${i}` });
    release.open();
    for (let i = 0; i < 200 && handled.length < 500; i++) await settle();
    expect(handled).toHaveLength(500);
    // A group that starts now finds only the retained tail.
    const late: string[] = [];
    await bus.work('late', ['a'], async (m) => { late.push(m.id); });
    await settle();
    expect(late.length).toBeGreaterThanOrEqual(10);
    expect(late.length).toBeLessThan(500);
    expect(late.at(-1)).toBe('m499');
    await bus.close();
  });
});
