/**
 * One "world" per contract test: a fresh bus (its own stream and subjects on JetStream, its own
 * shared log in process) and replicas on it, so the same cases run on every implementation.
 */
import { InProcessBus } from '../../../src/bus/in-process-bus.ts';
import { JetStreamBus } from '../../../src/bus/jetstream-bus.ts';
import { NatsServerProcess } from '../../../src/bus/nats-server-process.ts';
import type { Bus, DeadLetter } from '../../../src/bus/bus.ts';

export interface Replica extends Bus {
  /** Dies as a crash would: nothing it holds is acknowledged. */
  abort(): Promise<void>;
}

export interface WorldOptions {
  readonly ackWaitMs?: number;
  readonly maxDeliver?: number;
  readonly retryDelayMs?: number;
}

export interface World {
  /** A subject of this world's own (each world has its own subject space). */
  subject(suffix: string): string;
  replica(): Promise<Replica>;
  readonly deadLetters: DeadLetter[];
  close(): Promise<void>;
}

export interface BusFixture {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  world(options?: WorldOptions): Promise<World>;
}

const CONTRACT_DEFAULTS = { ackWaitMs: 1_500, maxDeliver: 3, retryDelayMs: 50 };

export function inProcessFixture(): BusFixture {
  return {
    name: 'InProcessBus',
    async start() {},
    async stop() {},
    async world(options = {}) {
      const deadLetters: DeadLetter[] = [];
      const replicas: InProcessBus[] = [];
      const first = new InProcessBus({ ...CONTRACT_DEFAULTS, ...options, onDeadLetter: (l) => deadLetters.push(l) });
      let used = false;
      return {
        subject: (suffix) => `w.${suffix}`,
        deadLetters,
        async replica() {
          const r = used ? first.connectReplica() : first;
          used = true;
          replicas.push(r);
          return r;
        },
        async close() {
          await Promise.all(replicas.map((r) => r.close()));
        },
      };
    },
  };
}

let worldCount = 0;

export function jetStreamFixture(): BusFixture {
  let server: NatsServerProcess | undefined;
  return {
    name: 'JetStreamBus',
    async start() {
      server = await NatsServerProcess.start({ name: 'bus-contract' });
    },
    async stop() {
      await server?.destroy();
    },
    async world(options = {}) {
      const n = ++worldCount;
      const deadLetters: DeadLetter[] = [];
      const replicas: JetStreamBus[] = [];
      const url = (server as NatsServerProcess).url;
      return {
        subject: (suffix) => `c${n}.${suffix}`,
        deadLetters,
        async replica() {
          const r = await JetStreamBus.connect({
            servers: url, connectionName: `contract-${n}-${replicas.length}`,
            streams: [{ name: `C${n}`, subjects: [`c${n}.>`] }],
            deadLetters: { stream: `C${n}_DEAD`, subjectPrefix: `c${n}-dead` },
            ...CONTRACT_DEFAULTS, ...options,
            onDeadLetter: (l) => deadLetters.push(l),
          });
          replicas.push(r);
          return r;
        },
        async close() {
          await Promise.all(replicas.map((r) => r.close()));
        },
      };
    },
  };
}
