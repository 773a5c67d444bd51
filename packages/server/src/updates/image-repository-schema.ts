/**
 * The image repository's tables, for both engines (issue 12). Domain `image-repository` in
 * schema_versions; version 1 is the SQLite DDL servers have run since the first release, verbatim.
 * Version 2 adds target bytes in the database, for servers whose replicas share PostgreSQL and no
 * disk (sql-target-blobs.ts); the embedded server keeps them as files (file-target-blobs.ts) and
 * leaves these tables empty.
 */
import type { SqlMigration } from '../db/sql-migrations.ts';

export const IMAGE_REPOSITORY_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    description: 'TUF image repositories: metadata versions per role, published target files',
    sqlite: `
      CREATE TABLE tuf_repositories (
        product TEXT NOT NULL, stream TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (product, stream));
      CREATE TABLE tuf_metadata (
        product TEXT NOT NULL, stream TEXT NOT NULL, role TEXT NOT NULL, version INTEGER NOT NULL,
        json TEXT NOT NULL, expires_at INTEGER NOT NULL, stored_at INTEGER NOT NULL,
        PRIMARY KEY (product, stream, role, version),
        FOREIGN KEY (product, stream) REFERENCES tuf_repositories (product, stream));
      CREATE TABLE tuf_target_files (
        product TEXT NOT NULL, stream TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, length INTEGER NOT NULL,
        PRIMARY KEY (product, stream, name, sha256),
        FOREIGN KEY (product, stream) REFERENCES tuf_repositories (product, stream))`,
    postgres: `
      CREATE TABLE tuf_repositories (
        product TEXT COLLATE "C" NOT NULL, stream TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (product, stream));
      CREATE TABLE tuf_metadata (
        product TEXT NOT NULL, stream TEXT NOT NULL, role TEXT NOT NULL, version BIGINT NOT NULL,
        json TEXT NOT NULL, expires_at BIGINT NOT NULL, stored_at BIGINT NOT NULL,
        PRIMARY KEY (product, stream, role, version),
        FOREIGN KEY (product, stream) REFERENCES tuf_repositories (product, stream));
      CREATE TABLE tuf_target_files (
        product TEXT NOT NULL, stream TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, length BIGINT NOT NULL,
        PRIMARY KEY (product, stream, name, sha256),
        FOREIGN KEY (product, stream) REFERENCES tuf_repositories (product, stream))`,
  },
  {
    version: 2,
    description: 'target bytes in the database, in chunks (replicas that share no disk)',
    // A blob row commits together with all of its chunks: a blob is whole or absent.
    sqlite: `
      CREATE TABLE tuf_blobs (sha256 TEXT PRIMARY KEY, length INTEGER NOT NULL, stored_at INTEGER NOT NULL);
      CREATE TABLE tuf_blob_chunks (
        sha256 TEXT NOT NULL REFERENCES tuf_blobs (sha256), seq INTEGER NOT NULL, bytes BLOB NOT NULL,
        PRIMARY KEY (sha256, seq))`,
    postgres: `
      CREATE TABLE tuf_blobs (sha256 TEXT PRIMARY KEY, length BIGINT NOT NULL, stored_at BIGINT NOT NULL);
      CREATE TABLE tuf_blob_chunks (
        sha256 TEXT NOT NULL REFERENCES tuf_blobs (sha256), seq INTEGER NOT NULL, bytes BYTEA NOT NULL,
        PRIMARY KEY (sha256, seq))`,
  },
];
