/**
 * The persistence port of API tokens (STYLE.md §1: the database's types never cross it). A token
 * is found by its id; only the SHA-256 of its secret is stored (api-tokens.ts).
 */
export interface StoredApiToken {
  id: string;
  name: string;
  /** As stored: a role this server does not know (written by a newer one) is the caller's to refuse. */
  role: string;
  secretSha256: Buffer;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface ApiTokenStore {
  /** Rejects an id that exists (ids are random: a clash is a bug, never a retry). */
  insertToken(token: StoredApiToken): Promise<void>;
  /**
   * Stores `token` only when no unrevoked admin token exists, atomically (two replicas starting
   * at once create one between them); false, and nothing stored, otherwise.
   */
  insertFirstAdminToken(token: StoredApiToken): Promise<boolean>;
  findToken(id: string): Promise<StoredApiToken | undefined>;
  /** Oldest first (creation time, then id). */
  listTokens(): Promise<StoredApiToken[]>;
  /** False when there is no such token, or it is revoked already. */
  revokeToken(id: string, at: number): Promise<boolean>;
  /** Remembers a use at `at`; an earlier time than the one stored changes nothing. */
  recordUse(id: string, at: number): Promise<void>;
}
