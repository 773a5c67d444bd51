/**
 * A read worker: its own read-only connection to the store's file (WAL lets it read while the
 * writer writes), so decoding chunks and encoding answers never runs on the thread that takes
 * telemetry in, acknowledges it and serves the broker.
 *
 * Exports are pulled piece by piece (`next`), so a slow HTTP client holds back only its own
 * answer, never the worker's memory or other requests.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { errorMessage } from '@shellguard/protocol';
import { SeriesReader } from './series-reader.ts';
import { exportPieces, readBuckets, readRaw, type ReadTask } from './read-service.ts';

export type WorkerRequest = { id: number } & (ReadTask | { op: 'next' } | { op: 'cancel' });

const port = parentPort!;

/**
 * Reads run at a lower CPU priority than the thread that takes telemetry in: on Linux a thread's
 * id (from /proc/thread-self) can be given its own nice value, so a burst of heavy reads slows
 * itself, not ingest. Elsewhere, or without the right, reads keep the process's priority.
 */
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
} catch { /* not Linux, or not allowed: same priority as the writer */ }
const { file } = workerData as { file: string };
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -32768');
const reader = new SeriesReader(db);
/** Exports in progress, and how many of their pieces are on the way to the writer unread. */
const exports = new Map<number, { gen: Generator<Uint8Array>; ahead: number }>();
/** Pieces sent before the writer asks: one ahead keeps the pipe full without unbounded buffering. */
const AHEAD = 2;

function fail(id: number, err: unknown): void {
  const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'telemetry_read_failed';
  port.postMessage({ id, error: { code, message: errorMessage(err) } });
}

function pump(id: number): void {
  const e = exports.get(id);
  if (!e) return;
  try {
    while (e.ahead < AHEAD) {
      const step = e.gen.next();
      if (step.done) {
        exports.delete(id);
        port.postMessage({ id, done: true });
        return;
      }
      const piece = step.value;
      const own = piece.byteOffset === 0 && piece.byteLength === piece.buffer.byteLength;
      port.postMessage({ id, piece }, own ? [piece.buffer as ArrayBuffer] : []);
      e.ahead++;
    }
  } catch (err) {
    exports.delete(id);
    fail(id, err);
  }
}

port.on('message', (m: WorkerRequest) => {
  try {
    switch (m.op) {
      case 'raw': {
        const c = readRaw(reader, m);
        port.postMessage({ id: m.id, columns: c });
        break;
      }
      case 'buckets': {
        const b = readBuckets(reader, m);
        port.postMessage({ id: m.id, buckets: b });
        break;
      }
      case 'export':
        exports.set(m.id, { gen: exportPieces(reader, m), ahead: 0 });
        pump(m.id);
        break;
      case 'next': {
        const e = exports.get(m.id);
        if (e) e.ahead--;
        pump(m.id);
        break;
      }
      case 'cancel':
        exports.get(m.id)?.gen.return(undefined);
        exports.delete(m.id);
        break;
    }
  } catch (err) {
    fail(m.id, err);
  }
});
