/** The SessionStore port's contract, on every engine (STYLE.md §2). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SESSION_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import type { SessionRecord } from '../../src/auth/session-store.ts';
import { SqlSessionStore } from '../../src/auth/sql-session-store.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';

const T0 = 1_750_000_000_000;
const session = (idHash: string, username: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
  idHash, username, csrfToken: `csrf-${idHash}`, createdAt: T0, lastSeenAt: T0, expiresAt: T0 + 1_000, ...over,
});

describe.each(SQL_ENGINES)('SessionStore contract on %s', (engine) => {
  let t: TestDatabase;
  let store: SqlSessionStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'sessions');
    await runSqlMigrations(t.database, 'sessions', SESSION_MIGRATIONS);
    store = new SqlSessionStore(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });

  it('finds a session by the hash of its cookie value, and refuses a second with the same hash', async () => {
    await store.insertSession(session('h1', 'alice'));
    expect(await store.findSession('h1')).toEqual(session('h1', 'alice'));
    expect(await store.findSession('H1')).toBeUndefined();
    expect(await store.findSession('nope')).toBeUndefined();
    await expect(store.insertSession(session('h1', 'bob'))).rejects.toThrow();
    expect((await store.findSession('h1'))?.username).toBe('alice');
  });

  it('slides the idle timer forward only', async () => {
    await store.insertSession(session('h1', 'alice'));
    await store.touchSession('h1', T0 + 50);
    await store.touchSession('h1', T0 + 20); // a slower replica's older touch
    expect((await store.findSession('h1'))?.lastSeenAt).toBe(T0 + 50);
    await store.touchSession('nope', T0 + 60);
  });

  it('ends one session, or every session of a person, and says how many there were', async () => {
    await store.insertSession(session('h1', 'alice'));
    await store.insertSession(session('h2', 'alice'));
    await store.insertSession(session('h3', 'bob'));
    expect(await store.deleteSession('h3')).toBe(true);
    expect(await store.deleteSession('h3')).toBe(false);
    expect(await store.deleteSessionsOf('alice')).toBe(2);
    expect(await store.deleteSessionsOf('alice')).toBe(0);
    expect(await store.findSession('h1')).toBeUndefined();
  });

  it('forgets sessions past their absolute end or idle since before the cut-off', async () => {
    await store.insertSession(session('ended', 'a', { expiresAt: T0 + 100 }));
    await store.insertSession(session('idle', 'a', { lastSeenAt: T0 + 10, expiresAt: T0 + 10_000 }));
    await store.insertSession(session('live', 'a', { lastSeenAt: T0 + 90, expiresAt: T0 + 10_000 }));
    expect(await store.deleteExpiredSessions(T0 + 100, T0 + 10)).toBe(2);
    expect(await store.findSession('live')).toBeDefined();
    expect(await store.deleteExpiredSessions(T0 + 100, T0 + 10)).toBe(0);
  });

  it('stores nothing of a unit of work that fails', async () => {
    await store.insertSession(session('kept', 'alice'));
    const uow = sqlUnitOfWork(t.database, (tx) => new SqlSessionStore(tx));
    await expect(uow.run(async (s) => {
      await s.insertSession(session('lost', 'alice'));
      await s.deleteSession('kept');
      throw new Error('fails half-way');
    })).rejects.toThrow('half-way');
    expect(await store.findSession('lost')).toBeUndefined();
    expect(await store.findSession('kept')).toBeDefined();
  });
});
