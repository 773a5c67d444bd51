/**
 * {@link UserStore} on the server's database, either engine (issue 12). Tables: auth-schema.ts.
 *
 * Sign-in lock-out is decided by the database, in one statement: several replicas (PostgreSQL)
 * may count failures of the same name at once, and an upsert that reads and writes the counter
 * row together is atomic on both engines, so parallel guesses cannot outrun the limit.
 */
import { sql, type Kysely } from 'kysely';
import type { SqlExecutor } from '../db/sql-database.ts';
import { isRole } from './roles.ts';
import type { LockoutPolicy, SignInAttempt, UserPatch, UserRecord, UserStore } from './user-store.ts';

interface UserRow {
  username: string; role: string; password_hash: string; disabled: number; created_at: number; updated_at: number;
  last_sign_in_at: number | null;
}

interface FailureRow { username: string; failures: number; last_failure_at: number; locked_until: number | null }

interface UserTables {
  users: UserRow;
  sign_in_failures: FailureRow;
}

function toRecord(row: UserRow): UserRecord {
  // A role this server does not know (written by a newer one) grants the least.
  const role = isRole(row.role) ? row.role : 'viewer';
  return {
    username: row.username, role, passwordHash: row.password_hash, disabled: row.disabled !== 0,
    createdAt: row.created_at, updatedAt: row.updated_at, lastSignInAt: row.last_sign_in_at,
  };
}

/** A lock can be lifted between the refused upsert and the read of its end; then the attempt is tried again. */
const MAX_RESERVE_TRIES = 3;

export class SqlUserStore implements UserStore {
  private readonly db: Kysely<UserTables>;

  constructor(exec: SqlExecutor) {
    this.db = exec as Kysely<UserTables>;
  }

  async insertUser(user: UserRecord): Promise<boolean> {
    const inserted = await this.db.insertInto('users').values({
      username: user.username, role: user.role, password_hash: user.passwordHash, disabled: user.disabled ? 1 : 0,
      created_at: user.createdAt, updated_at: user.updatedAt, last_sign_in_at: user.lastSignInAt,
    }).onConflict((oc) => oc.column('username').doNothing()).returning('username').executeTakeFirst();
    return inserted !== undefined;
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('username').execute()).map(toRecord);
  }

  async updateUser(username: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const row = await this.db.updateTable('users').set({
      updated_at: patch.updatedAt,
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.passwordHash !== undefined ? { password_hash: patch.passwordHash } : {}),
      ...(patch.disabled !== undefined ? { disabled: patch.disabled ? 1 : 0 } : {}),
      ...(patch.lastSignInAt !== undefined ? { last_sign_in_at: patch.lastSignInAt } : {}),
    }).where('username', '=', username).returningAll().executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async reserveSignInAttempt(username: string, at: number, policy: LockoutPolicy): Promise<SignInAttempt> {
    for (let attempt = 0; attempt < MAX_RESERVE_TRIES; attempt++) {
      if (await this.countFailure(username, at, policy)) return { allowed: true };
      const lockedUntil = await this.lockedUntil(username, at);
      if (lockedUntil !== null) return { allowed: false, lockedUntil };
    }
    // Unlocked and relocked under us every time: refuse for now rather than count unboundedly.
    return { allowed: false, lockedUntil: at + policy.lockoutMs };
  }

  /**
   * Counts one failure in advance, unless the name is locked at `at` (then nothing changes and
   * false is returned). A lock that ran out, or failures further apart than a lock-out, start the
   * count again; reaching the maximum locks the name for `lockoutMs`.
   */
  private async countFailure(username: string, at: number, policy: LockoutPolicy): Promise<boolean> {
    const lockoutMs = Math.trunc(policy.lockoutMs);
    const max = Math.trunc(policy.maxFailedSignIns);
    // Casts: PostgreSQL types no parameter from a bare CASE branch.
    const lockEnd = sql<number>`CAST(${at + lockoutMs} AS BIGINT)`;
    const fresh = sql<boolean>`(sign_in_failures.locked_until IS NOT NULL OR CAST(${at} AS BIGINT) - sign_in_failures.last_failure_at > CAST(${lockoutMs} AS BIGINT))`;
    const failures = sql<number>`CASE WHEN ${fresh} THEN 1 ELSE sign_in_failures.failures + 1 END`;
    const counted = await this.db.insertInto('sign_in_failures')
      .values({ username, failures: 1, last_failure_at: at, locked_until: 1 >= max ? at + lockoutMs : null })
      .onConflict((oc) => oc.column('username').doUpdateSet({
        failures,
        last_failure_at: at,
        locked_until: sql<number | null>`CASE WHEN ${failures} >= CAST(${max} AS INTEGER) THEN ${lockEnd} ELSE NULL END`,
      }).where(sql<boolean>`(sign_in_failures.locked_until IS NULL OR sign_in_failures.locked_until <= CAST(${at} AS BIGINT))`))
      .returning('failures')
      .executeTakeFirst();
    return counted !== undefined;
  }

  async clearSignInFailures(username: string): Promise<void> {
    await this.db.deleteFrom('sign_in_failures').where('username', '=', username).execute();
  }

  async lockedUntil(username: string, at: number): Promise<number | null> {
    const row = await this.db.selectFrom('sign_in_failures').select('locked_until')
      .where('username', '=', username).where('locked_until', '>', at).executeTakeFirst();
    return row?.locked_until ?? null;
  }

  async pruneSignInFailures(at: number, policy: LockoutPolicy): Promise<void> {
    await this.db.deleteFrom('sign_in_failures')
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', at)]))
      .where('last_failure_at', '<', at - policy.lockoutMs)
      .execute();
  }
}
