/**
 * The read workers of one store file. Each task goes to the worker with the fewest tasks in
 * flight; a worker that dies is replaced and its tasks fail with telemetry_read_failed (the
 * caller answers with an error; nothing stored is affected).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SampleColumns } from './codec/chunk-codec.ts';
import type { ReadTask } from './read-service.ts';
import type { BucketColumns } from './series-reader.ts';
import { TelemetryError } from './telemetry-error.ts';

type Reply =
  | { id: number; piece: Uint8Array }
  | { id: number; done: true }
  | { id: number; columns: SampleColumns }
  | { id: number; buckets: BucketColumns }
  | { id: number; error: { code: string; message: string } };

interface Pending {
  onReply(reply: Reply): void;
  onFailure(err: Error): void;
}

interface Slot {
  worker: Worker;
  tasks: Map<number, Pending>;
}

const WORKER_URL = new URL('./read-worker.ts', import.meta.url);

/**
 * The worker's entry. Built, it is the compiled read-worker.js. From TypeScript sources (tests,
 * tsx), a worker does not inherit the parent's loader (and `--import` in a worker's execArgv
 * comes too late for its entry), so a small ESM entry registers tsx first.
 */
function workerEntry(): URL {
  if (!WORKER_URL.pathname.endsWith('.ts')) return WORKER_URL;
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(path.join(tsxDir, 'dist/esm/api/index.mjs')).href;
  const source = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(WORKER_URL.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

export class ReadPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly file: string, size: number) {
    for (let i = 0; i < Math.max(1, size); i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(workerEntry(), { workerData: { file: this.file } });
    const slot: Slot = { worker, tasks: new Map() };
    worker.unref();
    worker.on('message', (reply: Reply) => slot.tasks.get(reply.id)?.onReply(reply));
    const failAll = (err: Error) => {
      for (const t of slot.tasks.values()) t.onFailure(err);
      slot.tasks.clear();
      if (this.closed) return;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = this.spawn();
    };
    worker.on('error', (err) => failAll(new TelemetryError('telemetry_read_failed', `read worker failed: ${err.message}`)));
    worker.on('exit', (code) => {
      if (slot.tasks.size > 0 || !this.closed) failAll(new TelemetryError('telemetry_read_failed', `read worker exited (${code})`));
    });
    return slot;
  }

  private pick(): Slot {
    if (this.closed) throw new TelemetryError('telemetry_closed', 'the telemetry store is closed');
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.tasks.size < best.tasks.size) best = s;
    return best;
  }

  private request<T>(task: ReadTask, take: (reply: Reply) => T | undefined): Promise<T> {
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.tasks.set(id, {
        onReply: (reply) => {
          slot.tasks.delete(id);
          if ('error' in reply) reject(new TelemetryError(reply.error.code as 'telemetry_read_failed', reply.error.message));
          else resolve(take(reply)!);
        },
        onFailure: reject,
      });
      slot.worker.postMessage({ id, ...task });
    });
  }

  raw(task: Extract<ReadTask, { op: 'raw' }>): Promise<SampleColumns> {
    return this.request(task, (r) => ('columns' in r ? r.columns : undefined));
  }

  buckets(task: Extract<ReadTask, { op: 'buckets' }>): Promise<BucketColumns> {
    return this.request(task, (r) => ('buckets' in r ? r.buckets : undefined));
  }

  /** The pieces of an export: the worker stays a piece or two ahead; each one read asks for the next. */
  async *export(task: Extract<ReadTask, { op: 'export' }>): AsyncGenerator<Uint8Array> {
    const slot = this.pick();
    const id = this.nextId++;
    const queue: (Reply | Error)[] = [];
    let wake: (() => void) | undefined;
    slot.tasks.set(id, {
      onReply: (reply) => { queue.push(reply); wake?.(); },
      onFailure: (err) => { queue.push(err); wake?.(); },
    });
    let finished = false;
    try {
      slot.worker.postMessage({ id, ...task });
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => { wake = r; });
        wake = undefined;
        const reply = queue.shift()!;
        if (reply instanceof Error) throw reply;
        if ('error' in reply) throw new TelemetryError(reply.error.code as 'telemetry_read_failed', reply.error.message);
        if ('done' in reply) { finished = true; return; }
        if ('piece' in reply) {
          yield reply.piece;
          slot.worker.postMessage({ id, op: 'next' });
        }
      }
    } finally {
      slot.tasks.delete(id);
      if (!finished) slot.worker.postMessage({ id, op: 'cancel' });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
