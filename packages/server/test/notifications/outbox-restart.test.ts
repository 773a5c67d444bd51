import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import type { NotificationEndpoint } from '../../src/notifications/notification-endpoint.ts';
import { OutboxDispatcher } from '../../src/notifications/outbox-dispatcher.ts';
import { SqlOutboxStore } from '../../src/notifications/sql-outbox-store.ts';
import { incidentEntry } from './incident-entries.ts';
import { SECRET, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

const CHILD = fileURLToPath(new URL('./outbox-crash-child.ts', import.meta.url));
const KEYS = ['incident:1:opened', 'incident:2:opened', 'incident:3:opened'];
const CLAIMANT = 'test-server';

let dir: string;
let file: string;
let receiver: WebhookReceiver;
const opened: { database: SqlDatabase; dispatcher: OutboxDispatcher }[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-outbox-restart-'));
  file = join(dir, 'server.sqlite');
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.dispatcher.stop();
    await o.database.close();
  }
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const endpoints = (): NotificationEndpoint[] => [{ id: 'ops', url: receiver.url(), secret: SECRET, format: 'generic' }];

/** Real time (the rows carry real times), and timers that never run: only kicks and starts wake the dispatcher. */
function realTimeWithoutTimers(): Clock {
  const timers = new ManualClock();
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
    clearTimeout: (h) => timers.clearTimeout(h),
    setInterval: (fn, ms) => timers.setInterval(fn, ms),
    clearInterval: (h) => timers.clearInterval(h),
  };
}

/**
 * A server start on the same file: a new handle, outbox and dispatcher, on real time. Its
 * claimant is the crashed child's (a server's claimant is stable across restarts), so a claim the
 * child held when it was killed is taken back at once.
 */
async function restart(onStoreError?: (err: unknown) => void) {
  const database = openSqliteSqlDatabase(file);
  await migrateServerDatabase(database);
  const outbox = new SqlOutboxStore(database.db, { endpoints: endpoints() });
  const dispatcher = new OutboxDispatcher({
    store: outbox, endpoints: endpoints(), clock: realTimeWithoutTimers(), claimant: CLAIMANT, ...(onStoreError ? { onStoreError } : {}),
  });
  opened.push({ database, dispatcher });
  return { database, outbox, dispatcher };
}

/** What a receiver that drops repeated Idempotency-Keys would have processed. */
const processedOnce = (r: WebhookReceiver) => Object.keys(r.countByKey()).sort();

describe('outbox across a restart', () => {
  it('sends again, under the same keys, what was delivered but not recorded when the database went away', async () => {
    const storeErrors: string[] = [];
    const first = await restart((err) => storeErrors.push(String(err)));
    // The receiver takes entry 1, but before its 2xx reaches us our database is gone (a crash, a full disk).
    receiver.answer = (_r, i) => {
      if (i === 0) first.database.sqlite!.handle.close();
      return 200;
    };
    await first.database.db.transaction().execute(async (tx) => {
      for (const id of [1, 2, 3]) await first.outbox.writerIn(tx).enqueue(incidentEntry(id));
    });
    first.dispatcher.start();
    await first.dispatcher.idle();
    await first.dispatcher.stop();
    expect(storeErrors).toEqual([expect.stringContaining('database connection is not open')]);
    expect(receiver.received.map((r) => r.idempotencyKey)).toEqual(['incident:1:opened']);

    const second = await restart();
    second.dispatcher.start();
    await second.dispatcher.idle();
    expect(receiver.countByKey()).toEqual({ 'incident:1:opened': 2, 'incident:2:opened': 1, 'incident:3:opened': 1 });
    expect(processedOnce(receiver)).toEqual(KEYS);
    const [a, b] = receiver.received.filter((r) => r.idempotencyKey === 'incident:1:opened');
    expect(a!.deliveryId).toBe(b!.deliveryId);
    expect((await second.outbox.stats()).endpoints).toMatchObject([{ endpointId: 'ops', pending: 0, delivered: 3, deadLettered: 0 }]);
  });

  describe.each(['before-send', 'in-flight'] as const)('when the server is killed with SIGKILL (%s)', (mode) => {
    it('delivers every committed entry after the restart, repeating at most the one in flight, with its key and delivery id', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, receiver.url(), mode, CLAIMANT], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      if (mode === 'before-send') {
        // Killed right after the enqueue committed, before its dispatcher could send anything.
        await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          if (stdout.includes('enqueued')) resolve();
        }));
        child.kill('SIGKILL');
      } else {
        // Killed while entry 2 is at the receiver: sent, never answered, never recorded.
        receiver.answer = async (_r, i) => {
          if (i === 1) {
            child.kill('SIGKILL');
            await exited;
          }
          return 200;
        };
      }
      expect(await exited, stderr).toBe('SIGKILL');
      const sentBefore = receiver.received.map((r) => r.idempotencyKey);
      expect(sentBefore).toEqual(mode === 'before-send' ? [] : ['incident:1:opened', 'incident:2:opened']);

      const { dispatcher, outbox } = await restart();
      dispatcher.start();
      await dispatcher.idle();
      expect(receiver.countByKey()).toEqual(mode === 'before-send'
        ? { 'incident:1:opened': 1, 'incident:2:opened': 1, 'incident:3:opened': 1 }
        : { 'incident:1:opened': 1, 'incident:2:opened': 2, 'incident:3:opened': 1 });
      expect(processedOnce(receiver)).toEqual(KEYS);
      expect(new Set(receiver.received.filter((r) => r.idempotencyKey === 'incident:2:opened').map((r) => r.deliveryId)).size).toBe(1);
      expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
      expect((await outbox.stats()).endpoints).toMatchObject([{ endpointId: 'ops', pending: 0, delivered: 3 }]);
    });
  });
});
