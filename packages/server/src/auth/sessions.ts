/**
 * Web sessions (OWASP Session Management Cheat Sheet): the cookie value is 32 random bytes
 * (256 bits, base64url) made at sign-in and never before, so a value planted in a browser ahead
 * of sign-in is never the one that gets signed in (session fixation). Only its SHA-256 is stored.
 * A session ends after `sessionIdleMs` without a request and `sessionMaxMs` after sign-in,
 * whichever comes first; its account's current role and status are read on every request.
 */
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import type { AuthConfig } from '../config/config.ts';
import type { Role } from './roles.ts';
import type { SessionStore } from './session-store.ts';
import type { UserStore } from './user-store.ts';

/** The idle timer is written at most this often per session, so most requests only read. */
export const LAST_SEEN_RESOLUTION_MS = 60_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type SessionPolicy = Pick<AuthConfig, 'sessionIdleMs' | 'sessionMaxMs'>;

export interface SessionUser {
  username: string;
  role: Role;
}

export interface CreatedSession {
  /** The cookie value: set it once, never store or log it. */
  token: string;
  csrfToken: string;
  /** The absolute end (the idle timeout may end it sooner). */
  expiresAt: number;
  user: SessionUser;
}

/** A session that is valid now, and who it speaks for. Carries no cookie value. */
export interface ActiveSession {
  /** SHA-256 of the cookie value, hex: names the session in logs without revealing it. */
  idHash: string;
  user: SessionUser;
  csrfToken: string;
  expiresAt: number;
}

export interface SessionServiceOptions {
  store: SessionStore;
  /** Read on every lookup: a disabled or deleted account's sessions stop at once. */
  users: Pick<UserStore, 'getUser'>;
  policy: SessionPolicy;
  now?: () => number;
  randomBytes?: (size: number) => Buffer;
  /**
   * Told after every session of a user was ended, so what outlives a request (a live event
   * stream opened with one of them) can be ended too.
   */
  onSessionsEnded?: (username: string) => void;
}

const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export class SessionService {
  private readonly store: SessionStore;
  private readonly users: Pick<UserStore, 'getUser'>;
  private readonly policy: SessionPolicy;
  private readonly now: () => number;
  private readonly randomBytes: (size: number) => Buffer;
  private readonly onSessionsEnded: ((username: string) => void) | undefined;

  constructor(options: SessionServiceOptions) {
    this.store = options.store;
    this.users = options.users;
    this.policy = options.policy;
    this.now = options.now ?? Date.now;
    this.randomBytes = options.randomBytes ?? nodeRandomBytes;
    this.onSessionsEnded = options.onSessionsEnded;
  }

  /** A new session for a user who has just proven who they are. */
  async create(user: SessionUser): Promise<CreatedSession> {
    const now = this.now();
    // Sign-ins are rare next to requests: a good moment to forget sessions that have ended.
    await this.store.deleteExpiredSessions(now, now - this.policy.sessionIdleMs);
    const token = this.randomBytes(32).toString('base64url');
    const csrfToken = this.randomBytes(32).toString('base64url');
    const expiresAt = now + this.policy.sessionMaxMs;
    await this.store.insertSession({ idHash: sha256Hex(token), username: user.username, csrfToken, createdAt: now, lastSeenAt: now, expiresAt });
    return { token, csrfToken, expiresAt, user: { username: user.username, role: user.role } };
  }

  /** The session a cookie value names, if it is valid now; undefined for anything else (never says why). */
  async authenticate(token: string): Promise<ActiveSession | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const idHash = sha256Hex(token);
    const session = await this.store.findSession(idHash);
    if (!session) return undefined;
    const now = this.now();
    if (now >= session.expiresAt || now - session.lastSeenAt >= this.policy.sessionIdleMs) {
      await this.store.deleteSession(idHash);
      return undefined;
    }
    const account = await this.users.getUser(session.username);
    if (!account || account.disabled) {
      await this.store.deleteSession(idHash);
      return undefined;
    }
    // Written at most once a minute, so the idle timeout may end a session up to that much early.
    if (now - session.lastSeenAt >= LAST_SEEN_RESOLUTION_MS) await this.store.touchSession(idHash, now);
    return { idHash, user: { username: account.username, role: account.role }, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
  }

  /** Signs out the session a cookie value names; false when there was none. */
  async revoke(token: string): Promise<boolean> {
    if (!TOKEN_PATTERN.test(token)) return false;
    return this.store.deleteSession(sha256Hex(token));
  }

  /** Signs out a session found by {@link authenticate}. */
  async signOut(session: Pick<ActiveSession, 'idHash'>): Promise<boolean> {
    return this.store.deleteSession(session.idHash);
  }

  /** Ends every session of a user (disabled, password or role changed). */
  async revokeAllOf(username: string): Promise<number> {
    const ended = await this.store.deleteSessionsOf(username);
    this.onSessionsEnded?.(username);
    return ended;
  }
}
