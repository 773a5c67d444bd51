/** The UserStore port's contract, on every engine (STYLE.md §2). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { USER_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import { SqlUserStore } from '../../src/auth/sql-user-store.ts';
import type { UserRecord } from '../../src/auth/user-store.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;
const POLICY = { maxFailedSignIns: 3, lockoutMs: 15 * MINUTE };

const user = (username: string, over: Partial<UserRecord> = {}): UserRecord => ({
  username, role: 'engineer', passwordHash: `scrypt$hash-of-${username}`, disabled: false, createdAt: T0, updatedAt: T0, lastSignInAt: null, ...over,
});

/** Another replica's handle on PostgreSQL; on SQLite (one server's file, one connection) the same server's. */
const replica = (t: TestDatabase) => (t.engine === 'postgres' ? t.reopen() : t.database);

describe.each(SQL_ENGINES)('UserStore contract on %s', (engine) => {
  let t: TestDatabase;
  let store: SqlUserStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'users');
    await runSqlMigrations(t.database, 'users', USER_MIGRATIONS);
    store = new SqlUserStore(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });

  describe('accounts', () => {
    it('inserts an account once, finds it, and lists accounts by username in byte order', async () => {
      expect(await store.insertUser(user('bob', { role: 'viewer', disabled: true, lastSignInAt: T0 + 5 }))).toBe(true);
      expect(await store.insertUser(user('alice'))).toBe(true);
      expect(await store.insertUser(user('a-b'))).toBe(true);
      expect(await store.insertUser(user('Zed'))).toBe(true);
      expect(await store.insertUser(user('alice', { role: 'admin' }))).toBe(false);
      expect(await store.getUser('alice')).toEqual(user('alice'));
      expect(await store.getUser('bob')).toEqual(user('bob', { role: 'viewer', disabled: true, lastSignInAt: T0 + 5 }));
      expect(await store.getUser('nobody')).toBeUndefined();
      expect(await store.getUser('ALICE')).toBeUndefined();
      expect((await store.listUsers()).map((u) => u.username)).toEqual(['Zed', 'a-b', 'alice', 'bob']);
    });

    it('changes only the fields a patch names and returns the account after it', async () => {
      await store.insertUser(user('alice', { lastSignInAt: T0 + 1 }));
      expect(await store.updateUser('alice', { updatedAt: T0 + 10, role: 'admin' })).toEqual(user('alice', { role: 'admin', updatedAt: T0 + 10, lastSignInAt: T0 + 1 }));
      expect(await store.updateUser('alice', { updatedAt: T0 + 20, disabled: true, passwordHash: 'scrypt$new' }))
        .toMatchObject({ role: 'admin', disabled: true, passwordHash: 'scrypt$new', updatedAt: T0 + 20, lastSignInAt: T0 + 1 });
      expect(await store.updateUser('alice', { updatedAt: T0 + 30, disabled: false, lastSignInAt: T0 + 30 })).toMatchObject({ disabled: false, lastSignInAt: T0 + 30 });
      expect(await store.updateUser('nobody', { updatedAt: T0, role: 'admin' })).toBeUndefined();
    });

    it('reads a role it does not know as the least one', async () => {
      await store.insertUser(user('future'));
      await t.database.db.updateTable('users').set({ role: 'overlord' }).where('username', '=', 'future').execute();
      expect((await store.getUser('future'))?.role).toBe('viewer');
    });

    it('stores nothing of a unit of work that fails', async () => {
      const uow = sqlUnitOfWork(t.database, (tx) => new SqlUserStore(tx));
      await expect(uow.run(async (s) => {
        await s.insertUser(user('alice'));
        await s.reserveSignInAttempt('alice', T0, POLICY);
        throw new Error('fails half-way');
      })).rejects.toThrow('half-way');
      expect(await store.listUsers()).toEqual([]);
      expect(await store.lockedUntil('alice', T0)).toBeNull();
    });
  });

  describe('sign-in failures', () => {
    it('counts attempts in advance and locks the name for the lock-out once they reach the maximum', async () => {
      for (let i = 0; i < 3; i++) expect(await store.reserveSignInAttempt('alice', T0 + i, POLICY)).toEqual({ allowed: true });
      expect(await store.lockedUntil('alice', T0 + 2)).toBe(T0 + 2 + POLICY.lockoutMs);
      expect(await store.reserveSignInAttempt('alice', T0 + 3, POLICY)).toEqual({ allowed: false, lockedUntil: T0 + 2 + POLICY.lockoutMs });
      // Refusals count nothing: the lock ends when it said.
      expect(await store.lockedUntil('alice', T0 + 2 + POLICY.lockoutMs)).toBeNull();
      expect(await store.lockedUntil('bob', T0)).toBeNull();
    });

    it('locks a name that has no account exactly like one that has', async () => {
      await store.insertUser(user('alice'));
      for (const name of ['alice', 'ghost']) {
        for (let i = 0; i < 3; i++) await store.reserveSignInAttempt(name, T0, POLICY);
      }
      expect(await store.lockedUntil('alice', T0)).toBe(T0 + POLICY.lockoutMs);
      expect(await store.lockedUntil('ghost', T0)).toBe(T0 + POLICY.lockoutMs);
    });

    it('counts again from one after a lock ran out, or when failures are further apart than a lock-out', async () => {
      for (let i = 0; i < 3; i++) await store.reserveSignInAttempt('alice', T0, POLICY);
      const after = T0 + POLICY.lockoutMs;
      expect(await store.reserveSignInAttempt('alice', after, POLICY)).toEqual({ allowed: true });
      expect(await store.reserveSignInAttempt('alice', after + 1, POLICY)).toEqual({ allowed: true });
      expect(await store.lockedUntil('alice', after + 1)).toBeNull();
      // Two failures, then one more a lock-out later: a fresh count, no lock.
      expect(await store.reserveSignInAttempt('alice', after + 2 + POLICY.lockoutMs, POLICY)).toEqual({ allowed: true });
      expect(await store.lockedUntil('alice', after + 2 + POLICY.lockoutMs)).toBeNull();
    });

    it('locks at the first failure when the maximum is one', async () => {
      const strict = { maxFailedSignIns: 1, lockoutMs: MINUTE };
      expect(await store.reserveSignInAttempt('alice', T0, strict)).toEqual({ allowed: true });
      expect(await store.reserveSignInAttempt('alice', T0 + 1, strict)).toEqual({ allowed: false, lockedUntil: T0 + MINUTE });
    });

    it('forgets the failures of a successful sign-in or an unlock', async () => {
      for (let i = 0; i < 3; i++) await store.reserveSignInAttempt('alice', T0, POLICY);
      await store.clearSignInFailures('alice');
      expect(await store.lockedUntil('alice', T0)).toBeNull();
      expect(await store.reserveSignInAttempt('alice', T0 + 1, POLICY)).toEqual({ allowed: true });
      await store.clearSignInFailures('nobody');
    });

    it('prunes only counts that can no longer lock anything', async () => {
      await store.reserveSignInAttempt('old', T0, POLICY);
      await store.reserveSignInAttempt('recent', T0 + POLICY.lockoutMs, POLICY);
      for (let i = 0; i < 3; i++) await store.reserveSignInAttempt('locked', T0, POLICY);
      const at = T0 + POLICY.lockoutMs + 1;
      const names = async () => (await t.database.db.selectFrom('sign_in_failures').select('username').orderBy('username').execute()).map((r) => r.username);
      await store.pruneSignInFailures(T0 + POLICY.lockoutMs - 1, POLICY); // nothing is a lock-out old yet, and 'locked' is locked
      expect(await names()).toEqual(['locked', 'old', 'recent']);
      await store.pruneSignInFailures(at, POLICY);
      expect(await names()).toEqual(['recent']);
    });

    it('bounds parallel guesses from several replicas by the maximum', async () => {
      const other = new SqlUserStore(replica(t).db);
      const attempts = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? other : store).reserveSignInAttempt('alice', T0, POLICY)));
      expect(attempts.filter((a) => a.allowed)).toHaveLength(POLICY.maxFailedSignIns);
      expect(attempts.filter((a) => !a.allowed)).toEqual(Array(12 - POLICY.maxFailedSignIns).fill({ allowed: false, lockedUntil: T0 + POLICY.lockoutMs }));
    });
  });
});
