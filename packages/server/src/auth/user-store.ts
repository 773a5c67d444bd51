/**
 * The persistence port of people's accounts and of sign-in failures (STYLE.md §1: the database's
 * types never cross it; every method may be asynchronous, so PostgreSQL can stand behind it).
 * Each method is its own transaction: in particular {@link UserStore.reserveSignInAttempt}
 * checks the lock and counts the attempt atomically, so parallel guesses cannot outrun it.
 */
import type { Role } from './roles.ts';

export interface UserRecord {
  username: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash` (password-hash.ts). Never leaves the auth domain. */
  passwordHash: string;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  lastSignInAt: number | null;
}

/** Changes to one account; fields left out stay as they are. */
export type UserPatch = Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'lastSignInAt'>> & { updatedAt: number };

/** Lock-out rules, from the server configuration (`auth.maxFailedSignIns`, `auth.lockoutMinutes`). */
export interface LockoutPolicy {
  maxFailedSignIns: number;
  lockoutMs: number;
}

/**
 * The result of asking to try a password for a name. Failures are kept per *name*, whether or not
 * an account has it, so a lock-out looks the same for a name that exists and one that does not.
 */
export type SignInAttempt =
  | { allowed: true }
  | { allowed: false; lockedUntil: number };

export interface UserStore {
  /** False when the username is taken (nothing is changed then). */
  insertUser(user: UserRecord): Promise<boolean>;
  getUser(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** The account after the change; undefined when there is no such account. */
  updateUser(username: string, patch: UserPatch): Promise<UserRecord | undefined>;

  /**
   * Atomically: refuses while `username` is locked; forgets failures once a lock has run out;
   * otherwise counts this attempt as a failure in advance (cleared by
   * {@link clearSignInFailures} when it succeeds), and locks when the count reaches the policy's
   * maximum. Counting in advance bounds guesses per lock-out window even when they arrive in
   * parallel, each one waiting on its password hash.
   */
  reserveSignInAttempt(username: string, at: number, policy: LockoutPolicy): Promise<SignInAttempt>;
  /** After a successful sign-in, or when an admin unlocks an account. */
  clearSignInFailures(username: string): Promise<void>;
  /** Until when `username` is locked, or null. */
  lockedUntil(username: string, at: number): Promise<number | null>;
  /** Forgets failure counts that can no longer lock anything (older than a lock-out, and unlocked). */
  pruneSignInFailures(at: number, policy: LockoutPolicy): Promise<void>;
}
