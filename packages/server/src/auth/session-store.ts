/**
 * The persistence port of web sessions (STYLE.md §1). A session is found by the SHA-256 of its
 * cookie value: the value itself is never stored, so a copy of the database (or a backup) signs
 * nobody in.
 */
export interface SessionRecord {
  /** SHA-256 of the cookie value, hex. */
  idHash: string;
  username: string;
  /**
   * Sent back in `x-csrf-token` on every state-changing request. Stored as it is: on its own it
   * grants nothing (it only counts together with the cookie), and `GET /session` must return it.
   */
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end: createdAt + the configured maximum lifetime. */
  expiresAt: number;
}

export interface SessionStore {
  insertSession(session: SessionRecord): Promise<void>;
  findSession(idHash: string): Promise<SessionRecord | undefined>;
  /** Slides the idle timer. */
  touchSession(idHash: string, lastSeenAt: number): Promise<void>;
  /** False when there was no such session. */
  deleteSession(idHash: string): Promise<boolean>;
  /** Ends every session of `username`; returns how many there were. */
  deleteSessionsOf(username: string): Promise<number>;
  /** Forgets sessions past their absolute end or idle since before `idleSince`. */
  deleteExpiredSessions(at: number, idleSince: number): Promise<number>;
}
