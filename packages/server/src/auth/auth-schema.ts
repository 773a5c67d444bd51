/**
 * The auth domain's tables, for both engines (issue 12). Three domains in schema_versions, as
 * before: `users` (accounts and sign-in failures), `sessions` (web sessions) and `auth` (API
 * tokens). Each version 1 is the SQLite DDL servers have run since the first release, verbatim, so
 * existing files keep working; the PostgreSQL DDL beside it says the same. Keys that lists are
 * ordered by are `COLLATE "C"` on PostgreSQL: byte order, as SQLite sorts, whatever the database's
 * locale.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const USER_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'users and sign-in failures',
    sqlite: `
      CREATE TABLE users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_sign_in_at INTEGER
      );
      CREATE TABLE sign_in_failures (
        username TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_failure_at INTEGER NOT NULL,
        locked_until INTEGER
      )`,
    // Keyed by the name tried, not by account: see UserStore.reserveSignInAttempt.
    postgres: `
      CREATE TABLE users (
        username TEXT COLLATE "C" PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_sign_in_at BIGINT
      );
      CREATE TABLE sign_in_failures (
        username TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_failure_at BIGINT NOT NULL,
        locked_until BIGINT
      )`,
  },
];

export const SESSION_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'web sessions',
    sqlite: `
      CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX sessions_by_username ON sessions (username);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at)`,
    postgres: `
      CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX sessions_by_username ON sessions (username);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at)`,
  },
];

export const API_TOKEN_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'api tokens',
    sqlite: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        secret_sha256 BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
      )`,
    postgres: `
      CREATE TABLE api_tokens (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        secret_sha256 BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT
      )`,
  },
];
