import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteOutbox } from '../../src/notifications/sqlite-outbox-store.ts';
import type { EndpointSubscription } from '../../src/notifications/notification-endpoint.ts';
import { T0, incidentEntry } from './incident-entries.ts';
import { describeOutboxStoreContract, type ContractClock, type OutboxUnderTest } from './outbox-store-contract.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-outbox-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function underTest(file: string, endpoints: readonly EndpointSubscription[], clock: ContractClock): OutboxUnderTest {
  const db = openDatabase(file);
  const outbox = new SqliteOutbox(db, { now: clock.now, endpoints });
  return {
    store: outbox,
    async transaction(write) {
      return db.transaction(() => write(outbox))();
    },
    async reopen() {
      db.close();
      return underTest(file, endpoints, clock);
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

let files = 0;
describeOutboxStoreContract('SqliteOutbox', async ({ endpoints, clock }) => underTest(join(dir, `outbox-${++files}.sqlite`), endpoints, clock));

describe('SqliteOutbox on the caller\'s database handle', () => {
  let db: SqliteDatabase;
  let outbox: SqliteOutbox;
  beforeEach(() => {
    db = openDatabase(join(dir, 'server.sqlite'));
    db.exec('CREATE TABLE panel_events (id INTEGER PRIMARY KEY, what TEXT NOT NULL)');
    outbox = new SqliteOutbox(db, { now: () => T0, endpoints: [{ id: 'ops', format: 'generic' }] });
  });
  afterEach(() => db.close());

  /** A domain write in two steps with the outbox entry between them, as an incident service would do it. */
  const openIncident = (id: number, opts: { fail: boolean }) => db.transaction(() => {
    db.prepare('INSERT INTO panel_events (id, what) VALUES (?, ?)').run(id, 'wrong panel opened');
    outbox.enqueue(incidentEntry(id));
    if (opts.fail) throw new Error('step 2 failed');
  })();

  it('commits the entry with the domain write, and rolls both back together', async () => {
    expect(() => openIncident(1, { fail: true })).toThrow('step 2 failed');
    expect(db.prepare('SELECT COUNT(*) FROM panel_events').pluck().get()).toBe(0);
    expect(await outbox.headOf('ops')).toBeUndefined();

    openIncident(1, { fail: false });
    expect(db.prepare('SELECT what FROM panel_events').pluck().all()).toEqual(['wrong panel opened']);
    expect((await outbox.headOf('ops'))?.idempotencyKey).toBe('incident:1:opened');
  });

  it('never hands the dispatcher an entry whose transaction is still open', async () => {
    db.exec('BEGIN');
    outbox.enqueue(incidentEntry(1));
    let head: unknown = 'not yet';
    const reading = outbox.headOf('ops').then((h) => { head = h; });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(head).toBe('not yet');
    db.exec('ROLLBACK');
    await reading;
    expect(head).toBeUndefined();
  });

  it('finds an endpoint\'s next delivery through the index of pending rows', () => {
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT d.id FROM outbox_deliveries d JOIN outbox_entries e ON e.id = d.entry_id
      WHERE d.endpoint_id = ? AND d.state = 'pending' ORDER BY d.id LIMIT 1`).all('ops') as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toContain('outbox_deliveries_queue');
  });
});
