/**
 * People's accounts: a username, a role (roles.ts), a scrypt password hash and a disabled flag.
 * Signing in (OWASP Authentication Cheat Sheet) answers the same, in comparable time, for an
 * unknown name, a wrong password and a disabled account; repeated failures lock the *name* for a
 * while, whether an account has it or not.
 *
 * The lock-out trade-off: locking by name lets anyone who knows a username keep that person out
 * (lock-out is a denial of service by design), in exchange for bounding password guessing to
 * `maxFailedSignIns` per `lockoutMs` per name whatever the number of client addresses. Since
 * unknown names lock exactly like real ones, the lock says nothing about which names exist. The
 * per-address rate limit on sign-in bounds how many names one address can lock; an admin can
 * lift a lock early (`enable`).
 */
import { ShellguardError } from '@shellguard/protocol';
import { ScryptPasswordHasher, type PasswordHasher } from './password-hash.ts';
import { isRole, type Role } from './roles.ts';
import type { SessionService } from './sessions.ts';
import type { LockoutPolicy, UserRecord, UserStore } from './user-store.ts';

export const USERNAME_PATTERN = /^[a-z0-9._-]{1,64}$/;
export const MIN_PASSWORD_LENGTH = 12;
/** Longer is refused: nobody types more, and it bounds the work one request can ask for. */
export const MAX_PASSWORD_LENGTH = 1024;

export type UserErrorCode = 'user_invalid_username' | 'user_weak_password' | 'user_invalid_role' | 'user_exists' | 'user_not_found';

export class UserError extends ShellguardError<UserErrorCode> {}

/** An account as the API shows it: never its password hash. */
export interface UserView {
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  lastSignInAt: number | null;
  /** Until when sign-in is locked after failures, or null. */
  lockedUntil: number | null;
}

export type SignInResult =
  | { ok: true; user: { username: string; role: Role } }
  /** Unknown name, wrong password or disabled account: deliberately not told apart. */
  | { ok: false; code: 'sign_in_failed' }
  | { ok: false; code: 'account_locked'; lockedUntil: number };

export interface UsersServiceOptions {
  store: UserStore;
  /** Sessions end when their account is disabled or its password or role changes. */
  sessions: Pick<SessionService, 'revokeAllOf'>;
  policy: LockoutPolicy;
  hasher?: PasswordHasher;
  now?: () => number;
}

function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new UserError('user_invalid_username', 'a username is 1-64 characters of a-z, 0-9, ".", "_" and "-"', { username: username.slice(0, 80) });
  }
}

function checkPassword(password: string, username: string): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new UserError('user_weak_password', `a password needs at least ${MIN_PASSWORD_LENGTH} characters (this one has ${length})`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new UserError('user_weak_password', `a password may have at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  // Short names (a, ops) turn up inside ordinary words; from four characters on it is a real hint.
  if (username.length >= 4 && password.toLowerCase().includes(username)) {
    throw new UserError('user_weak_password', 'a password must not contain the username');
  }
}

function checkRole(role: string): asserts role is Role {
  if (!isRole(role)) throw new UserError('user_invalid_role', `unknown role "${role}"`, { role });
}

export class UsersService {
  private readonly store: UserStore;
  private readonly sessions: Pick<SessionService, 'revokeAllOf'>;
  private readonly policy: LockoutPolicy;
  private readonly hasher: PasswordHasher;
  private readonly now: () => number;
  private lastPrunedAt = Number.NEGATIVE_INFINITY;

  constructor(options: UsersServiceOptions) {
    this.store = options.store;
    this.sessions = options.sessions;
    this.policy = options.policy;
    this.hasher = options.hasher ?? new ScryptPasswordHasher();
    this.now = options.now ?? Date.now;
  }

  async create(username: string, role: Role, password: string): Promise<UserView> {
    checkUsername(username);
    checkRole(role);
    checkPassword(password, username);
    const at = this.now();
    const record: UserRecord = {
      username, role, passwordHash: await this.hasher.hash(password), disabled: false, createdAt: at, updatedAt: at, lastSignInAt: null,
    };
    if (!(await this.store.insertUser(record))) throw new UserError('user_exists', `there is already a user ${username}`, { username });
    return this.view(record);
  }

  async list(): Promise<UserView[]> {
    return Promise.all((await this.store.listUsers()).map((u) => this.view(u)));
  }

  async get(username: string): Promise<UserView | undefined> {
    const user = await this.store.getUser(username);
    return user && this.view(user);
  }

  async setRole(username: string, role: Role): Promise<{ user: UserView; previousRole: Role }> {
    checkRole(role);
    const before = await this.existing(username);
    const user = await this.update(username, { role });
    await this.sessions.revokeAllOf(username);
    return { user, previousRole: before.role };
  }

  /** Refuses sign-in and ends the user's sessions at once. */
  async disable(username: string): Promise<UserView> {
    const user = await this.update(username, { disabled: true });
    await this.sessions.revokeAllOf(username);
    return user;
  }

  /** Allows sign-in again, and lifts a lock-out. */
  async enable(username: string): Promise<UserView> {
    await this.existing(username);
    await this.store.clearSignInFailures(username);
    return this.update(username, { disabled: false });
  }

  /** Sets a new password and ends every session of the user (their own included). */
  async setPassword(username: string, password: string): Promise<UserView> {
    await this.existing(username);
    checkPassword(password, username);
    const user = await this.update(username, { passwordHash: await this.hasher.hash(password) });
    await this.sessions.revokeAllOf(username);
    return user;
  }

  /**
   * Checks a username and password. Every path that can meet a real account costs one scrypt
   * verification, so neither the answer nor its time says whether the name exists.
   */
  async authenticate(username: string, password: string): Promise<SignInResult> {
    const name = username.toLowerCase();
    if (!USERNAME_PATTERN.test(name) || password.length > MAX_PASSWORD_LENGTH) {
      // No account can have this name: nothing to count, but the same work as a real attempt.
      await this.hasher.verifyDummy(password.slice(0, MAX_PASSWORD_LENGTH));
      return { ok: false, code: 'sign_in_failed' };
    }
    const at = this.now();
    // Failure counts of names nobody tries any more would pile up: forget them once per lock-out period.
    if (at - this.lastPrunedAt >= this.policy.lockoutMs) {
      this.lastPrunedAt = at;
      await this.store.pruneSignInFailures(at, this.policy);
    }
    const attempt = await this.store.reserveSignInAttempt(name, at, this.policy);
    if (!attempt.allowed) return { ok: false, code: 'account_locked', lockedUntil: attempt.lockedUntil };
    const user = await this.store.getUser(name);
    let match = false;
    if (user) match = await this.hasher.verify(password, user.passwordHash);
    else await this.hasher.verifyDummy(password);
    // The attempt was counted as a failure in advance; only a success takes it back.
    if (!user || !match || user.disabled) return { ok: false, code: 'sign_in_failed' };
    await this.store.clearSignInFailures(name);
    await this.store.updateUser(name, { lastSignInAt: at, updatedAt: user.updatedAt });
    return { ok: true, user: { username: user.username, role: user.role } };
  }

  private async existing(username: string): Promise<UserRecord> {
    const user = await this.store.getUser(username);
    if (!user) throw new UserError('user_not_found', `no user ${username}`, { username });
    return user;
  }

  private async update(username: string, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled'>>): Promise<UserView> {
    const user = await this.store.updateUser(username, { ...patch, updatedAt: this.now() });
    if (!user) throw new UserError('user_not_found', `no user ${username}`, { username });
    return this.view(user);
  }

  private async view(user: UserRecord): Promise<UserView> {
    return {
      username: user.username, role: user.role, disabled: user.disabled, createdAt: user.createdAt, updatedAt: user.updatedAt,
      lastSignInAt: user.lastSignInAt, lockedUntil: await this.store.lockedUntil(user.username, this.now()),
    };
  }
}
