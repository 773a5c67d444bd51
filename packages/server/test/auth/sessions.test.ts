import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SESSION_MIGRATIONS, USER_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import { SqlUserStore } from '../../src/auth/sql-user-store.ts';
import { SqlSessionStore } from '../../src/auth/sql-session-store.ts';
import { SessionService } from '../../src/auth/sessions.ts';
import { UsersService } from '../../src/auth/users.ts';

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;
const POLICY = { maxFailedSignIns: 5, lockoutMs: 15 * MINUTE, sessionIdleMs: 30 * MINUTE, sessionMaxMs: 12 * 60 * MINUTE };

let database: SqlDatabase;
/** The raw handle, to look behind the stores' backs. */
let db: SqliteDatabase;
let clock: number;
let sessions: SessionService;
let users: UsersService;
let ended: string[];

beforeEach(async () => {
  clock = T0;
  ended = [];
  database = openSqliteSqlDatabase(':memory:');
  await runSqlMigrations(database, 'users', USER_MIGRATIONS);
  await runSqlMigrations(database, 'sessions', SESSION_MIGRATIONS);
  db = database.sqlite!.handle;
  const store = new SqlUserStore(database.db);
  sessions = new SessionService({
    store: new SqlSessionStore(database.db), users: store, policy: POLICY, now: () => clock, onSessionsEnded: (u) => ended.push(u),
  });
  users = new UsersService({ store, sessions, policy: POLICY, now: () => clock });
  await users.create('alice', 'technician', 'correct horse battery staple');
});
afterEach(async () => { await database.close(); });

const lastSeen = (token: string) => (db.prepare('SELECT last_seen_at FROM sessions WHERE id_sha256 = ?')
  .get(createHash('sha256').update(token).digest('hex')) as { last_seen_at: number } | undefined)?.last_seen_at;

describe('SessionService', () => {
  it('makes a 256-bit base64url cookie value and a separate CSRF token, storing only the value\'s SHA-256', async () => {
    const created = await sessions.create({ username: 'alice', role: 'technician' });
    expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.csrfToken).not.toBe(created.token);
    expect(created.expiresAt).toBe(T0 + POLICY.sessionMaxMs);
    const dump = JSON.stringify(db.prepare('SELECT * FROM sessions').all());
    expect(dump).not.toContain(created.token);
    expect(dump).toContain(createHash('sha256').update(created.token).digest('hex'));
    expect(await sessions.authenticate(created.token)).toEqual({
      idHash: createHash('sha256').update(created.token).digest('hex'), user: { username: 'alice', role: 'technician' },
      csrfToken: created.csrfToken, expiresAt: created.expiresAt,
    });
  });

  it('gives a new value at every sign-in', async () => {
    const values = new Set<string>();
    for (let i = 0; i < 20; i++) values.add((await sessions.create({ username: 'alice', role: 'technician' })).token);
    expect(values.size).toBe(20);
  });

  it('ends a session idle for sessionIdleMs, the timer sliding with requests written at most once a minute', async () => {
    const { token } = await sessions.create({ username: 'alice', role: 'technician' });
    clock += 30_000;
    expect(await sessions.authenticate(token)).toBeDefined();
    expect(lastSeen(token)).toBe(T0); // under a minute: not written
    clock += 30_000;
    expect(await sessions.authenticate(token)).toBeDefined();
    expect(lastSeen(token)).toBe(T0 + MINUTE);
    clock += 30 * MINUTE - 1;
    expect(await sessions.authenticate(token)).toBeDefined();
    clock = T0 + MINUTE + 30 * MINUTE - 1 + 30 * MINUTE;
    expect(await sessions.authenticate(token)).toBeUndefined();
    expect(lastSeen(token)).toBeUndefined(); // forgotten
  });

  it('ends a session sessionMaxMs after sign-in however busy it is', async () => {
    const { token } = await sessions.create({ username: 'alice', role: 'technician' });
    while (clock < T0 + POLICY.sessionMaxMs - 10 * MINUTE) {
      clock += 10 * MINUTE;
      expect(await sessions.authenticate(token)).toBeDefined();
    }
    clock = T0 + POLICY.sessionMaxMs - 1;
    expect(await sessions.authenticate(token)).toBeDefined();
    clock += 1;
    expect(await sessions.authenticate(token)).toBeUndefined();
  });

  it('reads the account on every request: a role change shows at once, a disabled account signs nobody in', async () => {
    const { token } = await sessions.create({ username: 'alice', role: 'technician' });
    db.prepare("UPDATE users SET role = 'viewer'").run(); // behind the service's back, so nothing was revoked
    expect((await sessions.authenticate(token))?.user.role).toBe('viewer');
    db.prepare('UPDATE users SET disabled = 1').run();
    expect(await sessions.authenticate(token)).toBeUndefined();
  });

  it('signs out one session, or all of a user\'s, and says so', async () => {
    const a = await sessions.create({ username: 'alice', role: 'technician' });
    const b = await sessions.create({ username: 'alice', role: 'technician' });
    expect(await sessions.revoke(a.token)).toBe(true);
    expect(await sessions.revoke(a.token)).toBe(false);
    expect(await sessions.authenticate(a.token)).toBeUndefined();
    expect(await sessions.authenticate(b.token)).toBeDefined();
    expect(await sessions.revokeAllOf('alice')).toBe(1);
    expect(await sessions.authenticate(b.token)).toBeUndefined();
    expect(ended).toEqual(['alice']);
  });

  it('refuses values that are not session tokens without asking the store', async () => {
    for (const bad of ['', 'x', 'a'.repeat(44), `${'a'.repeat(42)}=`, "' OR 1=1 --"]) expect(await sessions.authenticate(bad)).toBeUndefined();
  });

  it('forgets ended sessions when someone signs in', async () => {
    await sessions.create({ username: 'alice', role: 'technician' });
    clock += POLICY.sessionIdleMs;
    await sessions.create({ username: 'alice', role: 'technician' });
    expect(db.prepare('SELECT COUNT(*) AS n FROM sessions').get()).toEqual({ n: 1 });
  });
});
