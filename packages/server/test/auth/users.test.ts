import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SESSION_MIGRATIONS, USER_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import { SqlUserStore } from '../../src/auth/sql-user-store.ts';
import { SqlSessionStore } from '../../src/auth/sql-session-store.ts';
import { SessionService } from '../../src/auth/sessions.ts';
import { UserError, UsersService } from '../../src/auth/users.ts';

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;
const POLICY = { maxFailedSignIns: 5, lockoutMs: 15 * MINUTE, sessionIdleMs: 30 * MINUTE, sessionMaxMs: 12 * 60 * MINUTE };
const PASSWORD = 'correct horse battery staple';

let database: SqlDatabase;
/** The raw handle, to look behind the stores' backs. */
let db: SqliteDatabase;
let clock: number;
let users: UsersService;
let sessions: SessionService;

beforeEach(async () => {
  clock = T0;
  database = openSqliteSqlDatabase(':memory:');
  await runSqlMigrations(database, 'users', USER_MIGRATIONS);
  await runSqlMigrations(database, 'sessions', SESSION_MIGRATIONS);
  db = database.sqlite!.handle;
  const store = new SqlUserStore(database.db);
  sessions = new SessionService({ store: new SqlSessionStore(database.db), users: store, policy: POLICY, now: () => clock });
  users = new UsersService({ store, sessions, policy: POLICY, now: () => clock });
});
afterEach(async () => { await database.close(); });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof UserError) return err.code;
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('UsersService.create', () => {
  it('creates a user whose view never holds the password or its hash', async () => {
    const user = await users.create('alice', 'engineer', PASSWORD);
    expect(user).toEqual({ username: 'alice', role: 'engineer', disabled: false, createdAt: T0, updatedAt: T0, lastSignInAt: null, lockedUntil: null });
    expect(JSON.stringify(await users.list())).not.toMatch(/scrypt|horse/);
  });

  it('refuses bad usernames, short passwords (saying the minimum), unknown roles and taken names', async () => {
    for (const bad of ['', 'Alice', 'a b', 'x'.repeat(65), 'émile', 'bob/../admin']) {
      expect(await codeOf(users.create(bad, 'viewer', PASSWORD)), bad).toBe('user_invalid_username');
    }
    await expect(users.create('bob', 'viewer', 'short pass')).rejects.toThrow(/at least 12 characters/);
    expect(await codeOf(users.create('bob', 'viewer', 'x'.repeat(1025)))).toBe('user_weak_password');
    expect(await codeOf(users.create('bobby', 'viewer', 'my name is bobby!'))).toBe('user_weak_password');
    expect(await codeOf(users.create('bob', 'root' as never, PASSWORD))).toBe('user_invalid_role');
    await users.create('bob', 'viewer', PASSWORD);
    expect(await codeOf(users.create('bob', 'admin', 'another long password'))).toBe('user_exists');
    expect((await users.get('bob'))?.role).toBe('viewer');
  });
});

describe('UsersService.authenticate', () => {
  beforeEach(async () => {
    await users.create('alice', 'engineer', PASSWORD);
  });

  it('accepts the right password (any letter case in the name) and records the sign-in', async () => {
    expect(await users.authenticate('Alice', PASSWORD)).toEqual({ ok: true, user: { username: 'alice', role: 'engineer' } });
    expect((await users.get('alice'))?.lastSignInAt).toBe(T0);
  });

  it('answers the same for an unknown name, a wrong password, a disabled account and a malformed name', async () => {
    const wrong = await users.authenticate('alice', 'wrong password, long enough');
    const unknown = await users.authenticate('mallory', PASSWORD);
    const malformed = await users.authenticate('no such/name', PASSWORD);
    await users.create('carol', 'viewer', PASSWORD);
    await users.disable('carol');
    const disabled = await users.authenticate('carol', PASSWORD);
    for (const r of [wrong, unknown, malformed, disabled]) expect(r).toEqual({ ok: false, code: 'sign_in_failed' });
  });

  it('locks a name after 5 failures, even for the right password, and unlocks after the lock-out on fake time', async () => {
    for (let i = 0; i < 5; i++) expect((await users.authenticate('alice', `wrong password ${i}!`)).ok).toBe(false);
    expect(await users.authenticate('alice', PASSWORD)).toEqual({ ok: false, code: 'account_locked', lockedUntil: T0 + 15 * MINUTE });
    expect((await users.get('alice'))?.lockedUntil).toBe(T0 + 15 * MINUTE);
    clock += 15 * MINUTE - 1;
    expect((await users.authenticate('alice', PASSWORD)).ok).toBe(false);
    clock += 1;
    expect((await users.authenticate('alice', PASSWORD)).ok).toBe(true);
    expect((await users.get('alice'))?.lockedUntil).toBeNull();
  });

  it('locks an unknown name exactly like a real one, so the lock tells nothing about which names exist', async () => {
    const real: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      real.push(await users.authenticate('alice', `wrong password ${i}!`));
      unknown.push(await users.authenticate('mallory', `wrong password ${i}!`));
    }
    expect(unknown).toEqual(real);
    expect(real.at(-1)).toMatchObject({ code: 'account_locked' });
  });

  it('forgets failures after a success, and failures further apart than a lock-out', async () => {
    for (let i = 0; i < 4; i++) await users.authenticate('alice', 'wrong password here');
    expect((await users.authenticate('alice', PASSWORD)).ok).toBe(true);
    for (let i = 0; i < 4; i++) await users.authenticate('alice', 'wrong password here');
    clock += 15 * MINUTE + 1;
    for (let i = 0; i < 4; i++) await users.authenticate('alice', 'wrong password here');
    expect((await users.authenticate('alice', PASSWORD)).ok).toBe(true);
  });

  it('counts parallel guesses before hashing, so no more than 5 are tried per lock-out', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => users.authenticate('alice', `parallel guess ${i}!!`)));
    expect(results.filter((r) => !r.ok && r.code === 'sign_in_failed')).toHaveLength(5);
    expect(results.filter((r) => !r.ok && r.code === 'account_locked')).toHaveLength(7);
  });

  it('forgets the failure counts of names nobody tries any more', async () => {
    await users.authenticate('typo-name', 'wrong password here');
    await users.authenticate('alice', 'wrong password here');
    const names = () => (db.prepare('SELECT username FROM sign_in_failures ORDER BY username').all() as { username: string }[]).map((r) => r.username);
    expect(names()).toEqual(['alice', 'typo-name']);
    clock += 15 * MINUTE + 1;
    await users.authenticate('alice', 'wrong password again');
    expect(names()).toEqual(['alice']);
  });

  it('lets an admin lift a lock-out by enabling the account', async () => {
    for (let i = 0; i < 5; i++) await users.authenticate('alice', 'wrong password here');
    expect((await users.authenticate('alice', PASSWORD)).ok).toBe(false);
    await users.enable('alice');
    expect((await users.authenticate('alice', PASSWORD)).ok).toBe(true);
  });

  it('takes comparable time for an unknown name and a wrong password (one scrypt each)', async () => {
    const lenient = new UsersService({
      store: new SqlUserStore(database.db), sessions, policy: { maxFailedSignIns: 100, lockoutMs: MINUTE }, now: () => clock,
    });
    const median = async (username: string) => {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await lenient.authenticate(username, 'wrong password here');
        samples.push(performance.now() - t0);
      }
      return samples.sort((a, b) => a - b)[2]!;
    };
    const wrongPassword = await median('alice');
    const unknownUser = await median('nobody-here');
    expect(unknownUser / wrongPassword).toBeGreaterThan(0.6);
    expect(unknownUser / wrongPassword).toBeLessThan(1.6);
  });
});

describe('UsersService: changes end sessions', () => {
  it('ends every session of a user who is disabled, changes role or changes password', async () => {
    await users.create('alice', 'engineer', PASSWORD);
    const open = async () => (await sessions.create({ username: 'alice', role: 'engineer' })).token;

    const a = await open();
    expect(await sessions.authenticate(a)).toBeDefined();
    await users.disable('alice');
    expect(await sessions.authenticate(a)).toBeUndefined();
    await users.enable('alice');

    const b = await open();
    const { user, previousRole } = await users.setRole('alice', 'viewer');
    expect([previousRole, user.role]).toEqual(['engineer', 'viewer']);
    expect(await sessions.authenticate(b)).toBeUndefined();

    const c = await open();
    await users.setPassword('alice', 'a brand new passphrase');
    expect(await sessions.authenticate(c)).toBeUndefined();
    expect((await users.authenticate('alice', PASSWORD)).ok).toBe(false);
    expect((await users.authenticate('alice', 'a brand new passphrase')).ok).toBe(true);
  });

  it('says which user is missing', async () => {
    expect(await codeOf(users.disable('ghost'))).toBe('user_not_found');
    expect(await codeOf(users.setRole('ghost', 'admin'))).toBe('user_not_found');
    expect(await codeOf(users.setPassword('ghost', PASSWORD))).toBe('user_not_found');
    expect(await codeOf(users.enable('ghost'))).toBe('user_not_found');
  });
});
