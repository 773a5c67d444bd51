/**
 * A short, synthetic throughput run of the bus (not a test): N messages of 200 bytes published
 * with `--in-flight` publishes outstanding, while one replica works them with concurrency 64 and
 * an empty handler. Prints publish-only and publish+consume rates for each implementation.
 *
 *   npm run bench:bus -- [--messages 20000] [--in-flight 64]
 */
import { parseArgs } from 'node:util';
import { InProcessBus, JetStreamBus, type Bus } from '@shellguard/server';
import { NatsServerProcess } from '@shellguard/server/testing';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '20000' }, 'in-flight': { type: 'string', default: '64' } } });
const total = Number(values.messages);
const inFlight = Number(values['in-flight']);
const payload = new Uint8Array(200).fill(7);

async function publishAll(bus: Bus, prefix: string): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < total) {
      const n = next++;
      await bus.publish(`tp.${prefix}.${n % 16}`, payload, { id: `${prefix}-${n}` });
    }
  }));
  return performance.now() - started;
}

async function run(name: string, open: () => Promise<Bus>): Promise<void> {
  const publisher = await open();
  const publishMs = await publishAll(publisher, 'p');
  const worker = await open();
  let handled = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => { done = resolve; });
  const started = performance.now();
  await worker.work('tp', ['tp.e.>'], async () => { if (++handled === total) done(); }, { concurrency: 64 });
  const endToEndPublishMs = await publishAll(publisher, 'e');
  await all;
  const endToEndMs = performance.now() - started;
  console.log(`${name}: publish only ${Math.round(total / (publishMs / 1000))} msg/s; publish+consume ${Math.round(total / (endToEndMs / 1000))} msg/s end to end (publishing took ${Math.round(endToEndPublishMs)} ms of ${Math.round(endToEndMs)} ms)`);
  await worker.close();
  await publisher.close();
}

const inProcess = new InProcessBus();
await run('InProcessBus', async () => inProcess.connectReplica());
const server = await NatsServerProcess.start({ name: 'bus-throughput' });
try {
  await run('JetStreamBus (file store, 1 nats-server, loopback)', () => JetStreamBus.connect({ servers: server.url, streams: [{ name: 'TP', subjects: ['tp.>'] }] }));
} finally {
  await server.destroy();
}
