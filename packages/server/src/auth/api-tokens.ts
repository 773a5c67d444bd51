/**
 * API tokens for automation: `sgt_<id>_<secret>`, where `id` (16 hex characters) finds the row
 * and `secret` (32 random bytes, base64url) proves possession. Only SHA-256(secret) is stored;
 * a fast hash is enough because the secret has 256 bits of entropy (no dictionary to try), and
 * the comparison is constant-time. Token values are never logged: callers get them once.
 */
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { ShellguardError } from '@shellguard/protocol';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import { isRole, type Role } from './roles.ts';

const PREFIX = 'sgt_';
const TOKEN_PATTERN = /^sgt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** last_used is written at most this often per token, so authenticating stays a read. */
const LAST_USED_RESOLUTION_MS = 60_000;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'api tokens',
    up(db) {
      db.exec(`CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        secret_sha256 BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
      )`);
    },
  },
];

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

interface TokenRow {
  id: string; name: string; role: string; secret_sha256: Buffer; created_at: number; last_used_at: number | null;
  revoked_at: number | null;
}

export class ApiTokens {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly randomBytes: (size: number) => Buffer;
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(db: SqliteDatabase, options: ApiTokensOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.randomBytes = options.randomBytes ?? nodeRandomBytes;
    runMigrations(db, 'auth', MIGRATIONS);
  }

  create(name: string, role: Role): CreatedToken {
    if (!isRole(role)) throw new AuthError('auth_bad_role', `unknown role "${String(role)}"`, { role });
    if (name.trim() === '' || name.length > 200) throw new AuthError('auth_bad_name', 'a token needs a name of 1-200 characters');
    const id = this.randomBytes(8).toString('hex');
    const secret = this.randomBytes(32).toString('base64url');
    const createdAt = this.now();
    this.db.prepare('INSERT INTO api_tokens (id, name, role, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, role, sha256(secret), createdAt);
    return { tokenId: id, name, role, createdAt, lastUsedAt: null, revokedAt: null, token: `${PREFIX}${id}_${secret}` };
  }

  /** The principal of a valid, unrevoked token; undefined for anything else (never says why). */
  verify(token: string): TokenPrincipal | undefined {
    const m = TOKEN_PATTERN.exec(token);
    const row = m
      ? (this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(m[1]) as TokenRow | undefined)
      : undefined;
    // Compare even when there is no row, so timing does not tell which ids exist.
    const presented = sha256(m?.[2] ?? token);
    const expected = row?.secret_sha256 ?? DUMMY_HASH;
    const match = expected.length === presented.length && timingSafeEqual(expected, presented);
    if (!row || !match || row.revoked_at !== null || !isRole(row.role)) return undefined;
    this.touch(row.id);
    return { tokenId: row.id, name: row.name, role: row.role };
  }

  private touch(id: string): void {
    const now = this.now();
    const last = this.lastUsedWritten.get(id);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(id, now);
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(now, id);
  }

  list(): TokenInfo[] {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, id').all() as TokenRow[]).map((r) => ({
      tokenId: r.id, name: r.name, role: r.role as Role, createdAt: r.created_at, lastUsedAt: r.last_used_at,
      revokedAt: r.revoked_at,
    }));
  }

  /** Returns false when no such unrevoked token exists. */
  revoke(tokenId: string): boolean {
    return this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(this.now(), tokenId).changes === 1;
  }

  /**
   * First start: creates an admin token and returns its plaintext (to show once). Returns
   * undefined when an unrevoked admin token already exists.
   */
  ensureAdminToken(): string | undefined {
    return this.db.transaction(() => {
      const existing = this.db.prepare("SELECT 1 FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1").get();
      return existing ? undefined : this.create('initial admin', 'admin').token;
    })();
  }
}

/** See {@link ApiTokens.ensureAdminToken}. */
export function ensureAdminToken(db: SqliteDatabase, options: ApiTokensOptions = {}): string | undefined {
  return new ApiTokens(db, options).ensureAdminToken();
}
