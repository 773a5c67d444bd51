/** {@link UserStore} on the server's SQLite database (better-sqlite3: synchronous, so each call is its own transaction). */
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import { isRole } from './roles.ts';
import type { LockoutPolicy, SignInAttempt, UserPatch, UserRecord, UserStore } from './user-store.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'users and sign-in failures',
    up(db) {
      db.exec(`CREATE TABLE users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_sign_in_at INTEGER
      )`);
      // Keyed by the name tried, not by account: see UserStore.reserveSignInAttempt.
      db.exec(`CREATE TABLE sign_in_failures (
        username TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_failure_at INTEGER NOT NULL,
        locked_until INTEGER
      )`);
    },
  },
];

interface UserRow {
  username: string; role: string; password_hash: string; disabled: number; created_at: number; updated_at: number;
  last_sign_in_at: number | null;
}

interface FailureRow { failures: number; last_failure_at: number; locked_until: number | null }

function toRecord(row: UserRow): UserRecord {
  // A role this server does not know (written by a newer one) grants the least.
  const role = isRole(row.role) ? row.role : 'viewer';
  return {
    username: row.username, role, passwordHash: row.password_hash, disabled: row.disabled !== 0,
    createdAt: row.created_at, updatedAt: row.updated_at, lastSignInAt: row.last_sign_in_at,
  };
}

export class SqliteUserStore implements UserStore {
  private readonly db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.db = db;
    runMigrations(db, 'users', MIGRATIONS);
  }

  async insertUser(user: UserRecord): Promise<boolean> {
    return this.db.prepare(`INSERT INTO users (username, role, password_hash, disabled, created_at, updated_at, last_sign_in_at)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(username) DO NOTHING`)
      .run(user.username, user.role, user.passwordHash, user.disabled ? 1 : 0, user.createdAt, user.updatedAt, user.lastSignInAt)
      .changes === 1;
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toRecord);
  }

  async updateUser(username: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const columns: string[] = ['updated_at = @updatedAt'];
    if (patch.role !== undefined) columns.push('role = @role');
    if (patch.passwordHash !== undefined) columns.push('password_hash = @passwordHash');
    if (patch.disabled !== undefined) columns.push('disabled = @disabled');
    if (patch.lastSignInAt !== undefined) columns.push('last_sign_in_at = @lastSignInAt');
    const row = this.db.prepare(`UPDATE users SET ${columns.join(', ')} WHERE username = @username RETURNING *`).get({
      username, updatedAt: patch.updatedAt, role: patch.role ?? null, passwordHash: patch.passwordHash ?? null,
      disabled: patch.disabled === undefined ? null : patch.disabled ? 1 : 0, lastSignInAt: patch.lastSignInAt ?? null,
    }) as UserRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  async reserveSignInAttempt(username: string, at: number, policy: LockoutPolicy): Promise<SignInAttempt> {
    return this.db.transaction((): SignInAttempt => {
      const row = this.db.prepare('SELECT failures, last_failure_at, locked_until FROM sign_in_failures WHERE username = ?')
        .get(username) as FailureRow | undefined;
      if (row?.locked_until != null && row.locked_until > at) return { allowed: false, lockedUntil: row.locked_until };
      // A lock that ran out, or failures further apart than a lock-out, start the count again.
      const fresh = !row || row.locked_until != null || at - row.last_failure_at > policy.lockoutMs;
      const failures = (fresh ? 0 : row.failures) + 1;
      const lockedUntil = failures >= policy.maxFailedSignIns ? at + policy.lockoutMs : null;
      this.db.prepare(`INSERT INTO sign_in_failures (username, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?)
        ON CONFLICT(username) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at,
        locked_until = excluded.locked_until`).run(username, failures, at, lockedUntil);
      return { allowed: true };
    }).immediate();
  }

  async clearSignInFailures(username: string): Promise<void> {
    this.db.prepare('DELETE FROM sign_in_failures WHERE username = ?').run(username);
  }

  async lockedUntil(username: string, at: number): Promise<number | null> {
    const row = this.db.prepare('SELECT locked_until FROM sign_in_failures WHERE username = ? AND locked_until > ?')
      .get(username, at) as { locked_until: number } | undefined;
    return row?.locked_until ?? null;
  }

  async pruneSignInFailures(at: number, policy: LockoutPolicy): Promise<void> {
    this.db.prepare(`DELETE FROM sign_in_failures
      WHERE (locked_until IS NULL OR locked_until <= ?) AND last_failure_at < ?`).run(at, at - policy.lockoutMs);
  }
}
