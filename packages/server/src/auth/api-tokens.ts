/**
 * API tokens for automation: `sgt_<id>_<secret>`, where `id` (16 hex characters) finds the row
 * and `secret` (32 random bytes, base64url) proves possession. Only SHA-256(secret) is stored;
 * a fast hash is enough because the secret has 256 bits of entropy (no dictionary to try), and
 * the comparison is constant-time. Token values are never logged: callers get them once.
 */
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { ShellguardError } from '@shellguard/protocol';
import type { ApiTokenStore, StoredApiToken } from './api-token-store.ts';
import { isRole, type Role } from './roles.ts';

const PREFIX = 'sgt_';
const TOKEN_PATTERN = /^sgt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** last_used is written at most this often per token (per replica), so authenticating stays a read. */
const LAST_USED_RESOLUTION_MS = 60_000;

export type AuthErrorCode = 'auth_bad_role' | 'auth_bad_name';

export class AuthError extends ShellguardError<AuthErrorCode> {}

/** Who a verified token speaks for. Carries no secret. */
export interface TokenPrincipal {
  tokenId: string;
  name: string;
  role: Role;
}

export interface TokenInfo extends TokenPrincipal {
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface CreatedToken extends TokenInfo {
  /** The plaintext token: show it once, never store or log it. */
  token: string;
}

export interface ApiTokensOptions {
  now?: () => number;
  randomBytes?: (size: number) => Buffer;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
const DUMMY_HASH = sha256('not a secret');

export class ApiTokens {
  private readonly store: ApiTokenStore;
  private readonly now: () => number;
  private readonly randomBytes: (size: number) => Buffer;
  /**
   * When this process last wrote each token's last use: a write throttle only (it decides nothing
   * that another replica could change; verification always reads the token, so a revocation on
   * any replica counts at once).
   */
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(store: ApiTokenStore, options: ApiTokensOptions = {}) {
    this.store = store;
    this.now = options.now ?? Date.now;
    this.randomBytes = options.randomBytes ?? nodeRandomBytes;
  }

  async create(name: string, role: Role): Promise<CreatedToken> {
    const { stored, token } = this.mint(name, role);
    await this.store.insertToken(stored);
    return created(stored, token);
  }

  /** The principal of a valid, unrevoked token; undefined for anything else (never says why). */
  async verify(token: string): Promise<TokenPrincipal | undefined> {
    const m = TOKEN_PATTERN.exec(token);
    const row = m ? await this.store.findToken(m[1]!) : undefined;
    // Compare even when there is no row, so timing does not tell which ids exist.
    const presented = sha256(m?.[2] ?? token);
    const expected = row?.secretSha256 ?? DUMMY_HASH;
    const match = expected.length === presented.length && timingSafeEqual(expected, presented);
    if (!row || !match || row.revokedAt !== null || !isRole(row.role)) return undefined;
    await this.touch(row.id);
    return { tokenId: row.id, name: row.name, role: row.role };
  }

  private async touch(id: string): Promise<void> {
    const now = this.now();
    const last = this.lastUsedWritten.get(id);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(id, now);
    await this.store.recordUse(id, now);
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.store.listTokens()).map((r) => ({
      tokenId: r.id, name: r.name, role: r.role as Role, createdAt: r.createdAt, lastUsedAt: r.lastUsedAt, revokedAt: r.revokedAt,
    }));
  }

  /** Returns false when no such unrevoked token exists. */
  async revoke(tokenId: string): Promise<boolean> {
    return this.store.revokeToken(tokenId, this.now());
  }

  /**
   * First start: creates an admin token and returns its plaintext (to show once). Returns
   * undefined when an unrevoked admin token already exists (also one another replica has just made).
   */
  async ensureAdminToken(): Promise<string | undefined> {
    const { stored, token } = this.mint('initial admin', 'admin');
    return (await this.store.insertFirstAdminToken(stored)) ? token : undefined;
  }

  private mint(name: string, role: Role): { stored: StoredApiToken; token: string } {
    if (!isRole(role)) throw new AuthError('auth_bad_role', `unknown role "${String(role)}"`, { role });
    if (name.trim() === '' || name.length > 200) throw new AuthError('auth_bad_name', 'a token needs a name of 1-200 characters');
    const id = this.randomBytes(8).toString('hex');
    const secret = this.randomBytes(32).toString('base64url');
    const stored: StoredApiToken = { id, name, role, secretSha256: sha256(secret), createdAt: this.now(), lastUsedAt: null, revokedAt: null };
    return { stored, token: `${PREFIX}${id}_${secret}` };
  }
}

function created(stored: StoredApiToken, token: string): CreatedToken {
  return {
    tokenId: stored.id, name: stored.name, role: stored.role as Role, createdAt: stored.createdAt, lastUsedAt: null, revokedAt: null, token,
  };
}

/** See {@link ApiTokens.ensureAdminToken}. */
export function ensureAdminToken(store: ApiTokenStore, options: ApiTokensOptions = {}): Promise<string | undefined> {
  return new ApiTokens(store, options).ensureAdminToken();
}
