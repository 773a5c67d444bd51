/**
 * The Bus contract (STYLE.md §2): the same cases on the embedded bus and on JetStream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/bus/bus.ts';
import { BusError } from '../../src/bus/bus-error.ts';
import { partitionSubject, partitionSubjects } from '../../src/bus/subjects.ts';
import { inProcessFixture, jetStreamFixture, type BusFixture } from './support/bus-fixtures.ts';
import { bytes, eventually, gate, text } from './support/eventually.ts';

interface Handled {
  readonly replica: string;
  readonly id: string;
  readonly deliveryCount: number;
}

describe.each<BusFixture>([inProcessFixture(), jetStreamFixture()])('Bus contract: $name', (fixture) => {
  beforeAll(() => fixture.start());
  afterAll(() => fixture.stop());

  it('delivers each published message to the group, with its id, subject and payload', async () => {
    const world = await fixture.world();
    const bus = await world.replica();
    const seen: BusMessage[] = [];
    await bus.work('readers', [world.subject('telemetry.>')], async (m) => { seen.push(m); });
    for (let i = 0; i < 20; i++) {
      const receipt = await bus.publish(world.subject(`telemetry.ahu-${i % 3}`), bytes(`sample ${i}`), { id: `m-${i}` });
      expect(receipt.duplicate).toBe(false);
    }
    await eventually(() => expect(seen).toHaveLength(20));
    const byId = new Map(seen.map((m) => [m.id, m]));
    expect(byId.size).toBe(20);
    const m7 = byId.get('m-7') as BusMessage;
    expect(m7.subject).toBe(world.subject('telemetry.ahu-1'));
    expect(text(m7.payload)).toBe('sample 7');
    expect(m7.deliveryCount).toBe(1);
    expect(m7.storedAt).toBeGreaterThan(0);
    await world.close();
  });

  it('stores a message published twice with the same id once, and delivers it once', async () => {
    const world = await fixture.world();
    const bus = await world.replica();
    const first = await bus.publish(world.subject('alarm.raised'), bytes('first'), { id: 'alarm-42' });
    const again = await bus.publish(world.subject('alarm.raised'), bytes('retry'), { id: 'alarm-42' });
    await bus.publish(world.subject('alarm.raised'), bytes('other'), { id: 'alarm-43' });
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    const seen: BusMessage[] = [];
    await bus.work('notifier', [world.subject('alarm.>')], async (m) => { seen.push(m); });
    await eventually(() => expect(seen.map((m) => m.id)).toEqual(['alarm-42', 'alarm-43']));
    expect(text((seen[0] as BusMessage).payload)).toBe('first');
    await world.close();
  });

  it('shares a group between replicas: each message is handled by one of them', async () => {
    const world = await fixture.world();
    const [a, b] = [await world.replica(), await world.replica()];
    const handled: Handled[] = [];
    const handler = (replica: string) => async (m: BusMessage): Promise<void> => {
      await new Promise((r) => setTimeout(r, 2));
      handled.push({ replica, id: m.id, deliveryCount: m.deliveryCount });
    };
    await a.work('alarms', [world.subject('eval.>')], handler('a'), { concurrency: 4 });
    await b.work('alarms', [world.subject('eval.>')], handler('b'), { concurrency: 4 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => a.publish(world.subject(`eval.${i % 7}`), bytes(String(i)), { id: `e-${i}` })));
    await eventually(() => expect(new Set(handled.map((h) => h.id)).size).toBe(200));
    // Nobody died and nothing failed: no message was handled twice.
    expect(handled).toHaveLength(200);
    expect(handled.every((h) => h.deliveryCount === 1)).toBe(true);
    expect(handled.some((h) => h.replica === 'a')).toBe(true);
    expect(handled.some((h) => h.replica === 'b')).toBe(true);
    await world.close();
  });

  it('redelivers a message whose handler threw, and acknowledges it once the handler succeeds', async () => {
    const world = await fixture.world();
    const bus = await world.replica();
    const attempts: Handled[] = [];
    const done: string[] = [];
    await bus.work('webhooks', [world.subject('notify')], async (m) => {
      attempts.push({ replica: 'a', id: m.id, deliveryCount: m.deliveryCount });
      if (m.id === 'flaky' && m.deliveryCount < 2) throw new Error('receiver answered 503');
      done.push(m.id);
    });
    await bus.publish(world.subject('notify'), bytes('x'), { id: 'flaky' });
    await bus.publish(world.subject('notify'), bytes('y'), { id: 'steady' });
    await eventually(() => expect(done.sort()).toEqual(['flaky', 'steady']));
    expect(attempts.filter((a) => a.id === 'flaky').map((a) => a.deliveryCount)).toEqual([1, 2]);
    expect(world.deadLetters).toEqual([]);
    await world.close();
  });

  it('dead-letters a message after its last allowed delivery fails, and goes on with the rest', async () => {
    const world = await fixture.world({ maxDeliver: 3 });
    const bus = await world.replica();
    const attempts: number[] = [];
    const done: string[] = [];
    await bus.work('analytics', [world.subject('score')], async (m) => {
      if (m.id === 'poison') {
        attempts.push(m.deliveryCount);
        throw new Error('cannot decode sample');
      }
      done.push(m.id);
    });
    await bus.publish(world.subject('score'), bytes('?'), { id: 'poison' });
    await bus.publish(world.subject('score'), bytes('ok'), { id: 'fine' });
    await eventually(() => expect(world.deadLetters).toHaveLength(1));
    const letter = world.deadLetters[0];
    expect(letter?.group).toBe('analytics');
    expect(letter?.message.id).toBe('poison');
    expect(letter?.message.deliveryCount).toBe(3);
    expect(letter?.reason).toContain('cannot decode sample');
    expect(attempts).toEqual([1, 2, 3]);
    await eventually(() => expect(done).toEqual(['fine']));
    await world.close();
  });

  it('gives the messages of a replica that died mid-stream to another, losing none', async () => {
    const world = await fixture.world({ ackWaitMs: 1_500 });
    const [dying, survivor] = [await world.replica(), await world.replica()];
    const held: Handled[] = [];
    const completed: Handled[] = [];
    const never = gate();
    await dying.work('alarms', [world.subject('eval.>')], async (m) => {
      held.push({ replica: 'dying', id: m.id, deliveryCount: m.deliveryCount });
      await never.promise; // wedged until it dies
    }, { concurrency: 4 });
    for (let i = 0; i < 30; i++) await survivor.publish(world.subject(`eval.${i}`), bytes(String(i)), { id: `e-${i}` });
    await eventually(() => expect(held).toHaveLength(4));
    await survivor.work('alarms', [world.subject('eval.>')], async (m) => {
      completed.push({ replica: 'survivor', id: m.id, deliveryCount: m.deliveryCount });
    }, { concurrency: 4 });
    await eventually(() => expect(completed).toHaveLength(26));
    await dying.abort();
    await eventually(() => expect(new Set(completed.map((c) => c.id)).size).toBe(30));
    const heldIds = new Set(held.map((h) => h.id));
    for (const c of completed) {
      // Handled by both only when it was redelivered, and then flagged so.
      if (heldIds.has(c.id)) expect(c.deliveryCount).toBeGreaterThan(1);
      else expect(c.deliveryCount).toBe(1);
    }
    expect(completed).toHaveLength(30);
    never.open();
    await world.close();
  });

  it('fans every message out to every replica, once each and in order', async () => {
    const world = await fixture.world();
    const [a, b] = [await world.replica(), await world.replica()];
    const seenA: string[] = [];
    const seenB: string[] = [];
    await a.fanout([world.subject('live.>')], (m) => { seenA.push(m.id); });
    await b.fanout([world.subject('live.>')], (m) => { seenB.push(m.id); });
    const ids = Array.from({ length: 10 }, (_, i) => `live-${i}`);
    for (const id of ids) await a.publish(world.subject('live.pdu-a12'), bytes(id), { id });
    await a.publish(world.subject('live.pdu-a12'), bytes('again'), { id: 'live-3' });
    await eventually(() => {
      expect(seenA).toEqual(ids);
      expect(seenB).toEqual(ids);
    });
    await world.close();
  });

  it('fanout starts from now: messages stored before the call are not replayed', async () => {
    const world = await fixture.world();
    const bus = await world.replica();
    await bus.publish(world.subject('live.x'), bytes('old'), { id: 'old' });
    const seen: string[] = [];
    await bus.fanout([world.subject('live.>')], (m) => { seen.push(m.id); });
    await bus.publish(world.subject('live.x'), bytes('new'), { id: 'new' });
    await eventually(() => expect(seen).toEqual(['new']));
    await world.close();
  });

  it('ordered work handles one filter in stored order across replicas, a failure holding back the rest', async () => {
    const world = await fixture.world();
    const [a, b] = [await world.replica(), await world.replica()];
    const events: string[] = [];
    const handler = async (m: BusMessage): Promise<void> => {
      events.push(`start ${m.id}`);
      await new Promise((r) => setTimeout(r, 1));
      if (m.id === 'o-3' && m.deliveryCount === 1) {
        events.push(`fail ${m.id}`);
        throw new Error('store briefly unavailable');
      }
      events.push(`done ${m.id}`);
    };
    await a.work('timeline', [world.subject('door.hall-1')], handler, { ordered: true });
    await b.work('timeline', [world.subject('door.hall-1')], handler, { ordered: true });
    const ids = Array.from({ length: 8 }, (_, i) => `o-${i}`);
    for (const id of ids) await a.publish(world.subject('door.hall-1'), bytes(id), { id });
    await eventually(() => expect(events.filter((e) => e.startsWith('done'))).toHaveLength(8));
    const expected: string[] = [];
    for (const id of ids) {
      expected.push(`start ${id}`);
      if (id === 'o-3') expected.push(`fail ${id}`, `start ${id}`);
      expected.push(`done ${id}`);
    }
    // Never two at once, never out of order.
    expect(events).toEqual(expected);
    await world.close();
  });

  it('keeps per-key order over partitioned subjects while partitions run in parallel', async () => {
    const world = await fixture.world();
    const [a, b] = [await world.replica(), await world.replica()];
    const base = world.subject('eval');
    const perKey = new Map<string, number[]>();
    let running = 0;
    let mostAtOnce = 0;
    const handler = async (m: BusMessage): Promise<void> => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise((r) => setTimeout(r, 3));
      const [key, n] = text(m.payload).split(':') as [string, string];
      perKey.set(key, [...(perKey.get(key) ?? []), Number(n)]);
      running--;
    };
    await a.work('per-asset', partitionSubjects(base, 4), handler, { ordered: true });
    await b.work('per-asset', partitionSubjects(base, 4), handler, { ordered: true });
    const keys = Array.from({ length: 12 }, (_, i) => `asset-${i}`);
    for (let n = 0; n < 10; n++) {
      await Promise.all(keys.map((key) => a.publish(partitionSubject(base, key, 4), bytes(`${key}:${n}`), { id: `${key}-${n}` })));
    }
    await eventually(() => expect([...perKey.values()].reduce((s, v) => s + v.length, 0)).toBe(120));
    for (const key of keys) expect(perKey.get(key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(mostAtOnce).toBeGreaterThan(1);
    await world.close();
  });

  it('close waits for the handler in flight and acknowledges it', async () => {
    const world = await fixture.world();
    const first = await world.replica();
    const release = gate();
    const started = gate();
    let finished = false;
    await first.work('timeline', [world.subject('door.>')], async () => {
      started.open();
      await release.promise;
      finished = true;
    }, { ordered: true });
    await first.publish(world.subject('door.1'), bytes('opened'), { id: 'd-1' });
    await started.promise;
    const closing = first.close();
    setTimeout(release.open, 50);
    await closing;
    expect(finished).toBe(true);
    // Ordered: had d-1 not been acknowledged, it would come (again) before d-2.
    const next = await world.replica();
    const seen: string[] = [];
    await next.work('timeline', [world.subject('door.>')], async (m) => { seen.push(m.id); }, { ordered: true });
    await next.publish(world.subject('door.1'), bytes('closed'), { id: 'd-2' });
    await eventually(() => expect(seen).toEqual(['d-2']));
    await world.close();
  });

  it('refuses bad subjects, overlapping filters and use after close, with codes', async () => {
    const world = await fixture.world();
    const bus = await world.replica();
    await expect(bus.publish(world.subject('a.*'), bytes(''), { id: 'x' })).rejects.toMatchObject({ code: 'bus_bad_subject' });
    await expect(bus.work('g', [world.subject('a.>'), world.subject('a.b')], async () => {})).rejects.toMatchObject({ code: 'bus_overlapping_subjects' });
    await expect(bus.work('bad.group', [world.subject('a.>')], async () => {})).rejects.toMatchObject({ code: 'bus_bad_option' });
    await bus.close();
    await expect(bus.publish(world.subject('a.b'), bytes(''), { id: 'y' })).rejects.toBeInstanceOf(BusError);
    await world.close();
  });
});
