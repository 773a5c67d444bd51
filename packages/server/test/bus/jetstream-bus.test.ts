/**
 * What only the JetStream bus promises: durability across a nats-server crash, dead letters kept
 * in a stream, and subjects routed to the stream that holds them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/bus/bus.ts';
import { JetStreamBus } from '../../src/bus/jetstream-bus.ts';
import { NatsServerProcess } from '../../src/bus/nats-server-process.ts';
import { storedMessages } from './support/stream-state.ts';
import { bytes, eventually } from './support/eventually.ts';

describe('JetStreamBus', () => {
  let server: NatsServerProcess;

  beforeAll(async () => {
    server = await NatsServerProcess.start({ name: 'bus-jetstream' });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('loses no published message when nats-server is killed -9 and restarted on its store', async () => {
    const busOptions = {
      servers: server.url, streams: [{ name: 'CRASH', subjects: ['crash.>'] }],
      deadLetters: { stream: 'CRASH_DEAD', subjectPrefix: 'crash-dead' }, ackWaitMs: 2_000, publishTimeoutMs: 1_000,
    };
    const publisher = await JetStreamBus.connect({ ...busOptions, connectionName: 'publisher' });
    const consumer = await JetStreamBus.connect({ ...busOptions, connectionName: 'consumer' });
    const handled: BusMessage[] = [];
    await consumer.work('ingest-consumers', ['crash.>'], async (m) => { handled.push(m); }, { concurrency: 8 });

    const total = 1_500;
    const confirmed = new Set<string>();
    const unconfirmed = new Set<string>();
    let next = 0;
    const publishLane = async (): Promise<void> => {
      while (next < total) {
        const id = `sample-${next++}`;
        try {
          await publisher.publish(`crash.site-1.${Number(id.slice(7)) % 5}`, bytes(id), { id });
          confirmed.add(id);
        } catch {
          unconfirmed.add(id);
        }
      }
    };
    const lanes = Promise.all(Array.from({ length: 16 }, publishLane));
    await eventually(() => expect(confirmed.size).toBeGreaterThan(300));
    await server.kill();
    await eventually(() => expect(unconfirmed.size).toBeGreaterThan(0));
    await server.restart();
    await lanes;
    expect(confirmed.size + unconfirmed.size).toBe(total);

    // The publisher's side of the contract: what was not confirmed is published again, same id.
    for (const id of unconfirmed) {
      await eventually(async () => { await publisher.publish(`crash.site-1.${Number(id.slice(7)) % 5}`, bytes(id), { id }); }, 30_000, 200);
    }
    // Everything confirmed before the crash is still there, and nothing was stored twice (the
    // de-duplication window survived the restart for the ids whose acknowledgement was lost).
    await eventually(() => expect(new Set(handled.map((m) => m.id)).size).toBe(total), 60_000);
    // Stored once each: the stream holds exactly `total` messages. (Handling may repeat: after a
    // crash the server can lose its record of the newest acknowledgements and deliveries, so a
    // message can come again even with deliveryCount 1 — consumers key their effects on the id.)
    expect(await storedMessages(server.url, 'CRASH')).toBe(total);
    const probe = await JetStreamBus.connect({ ...busOptions, connectionName: 'probe' });
    const again = await Promise.all([...confirmed].slice(0, 50).map((id) => probe.publish(`crash.site-1.${Number(id.slice(7)) % 5}`, bytes(id), { id })));
    expect(again.every((r) => r.duplicate)).toBe(true);
    await Promise.all([publisher.close(), consumer.close(), probe.close()]);
  });

  it('keeps dead letters in their own stream, with the reason and the original subject and id', async () => {
    const bus = await JetStreamBus.connect({
      servers: server.url, streams: [{ name: 'DLQ', subjects: ['dlq.>'] }],
      deadLetters: { stream: 'DLQ_DEAD', subjectPrefix: 'dlq-dead' }, maxDeliver: 2, retryDelayMs: 20,
    });
    await bus.work('webhooks', ['dlq.notify'], async () => { throw new Error('HTTP 410 Gone'); });
    await bus.publish('dlq.notify', bytes('{"alarm":7}'), { id: 'alarm-7-notify' });
    await eventually(async () => expect(await bus.listDeadLetters('webhooks')).toHaveLength(1));
    const [letter] = await bus.listDeadLetters('webhooks');
    expect(letter?.message).toMatchObject({ id: 'alarm-7-notify', subject: 'dlq.notify', deliveryCount: 2 });
    expect(new TextDecoder().decode(letter?.message.payload)).toBe('{"alarm":7}');
    expect(letter?.reason).toContain('HTTP 410 Gone');
    await bus.close();
  });

  it('routes each filter to the stream holding it, and refuses subjects no stream or several hold', async () => {
    const bus = await JetStreamBus.connect({
      servers: server.url,
      streams: [{ name: 'LOCAL', subjects: ['route.local.>'] }, { name: 'EXPORT', subjects: ['route.flow.>'] }],
      deadLetters: { stream: 'ROUTE_DEAD', subjectPrefix: 'route-dead' },
    });
    const seen: string[] = [];
    await bus.work('both', ['route.local.>', 'route.flow.alarm'], async (m) => { seen.push(m.subject); });
    await bus.publish('route.local.telemetry', bytes('1'), { id: 'r1' });
    await bus.publish('route.flow.alarm', bytes('2'), { id: 'r2' });
    await eventually(() => expect(seen.sort()).toEqual(['route.flow.alarm', 'route.local.telemetry']));
    await expect(bus.publish('route.elsewhere', bytes(''), { id: 'r3' })).rejects.toMatchObject({ code: 'bus_subject_unrouted' });
    await expect(bus.work('all', ['route.>'], async () => {})).rejects.toMatchObject({ code: 'bus_subject_spans_streams' });
    await bus.close();
  });
});
