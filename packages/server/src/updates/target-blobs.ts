/**
 * Where the image repository keeps target bytes, content-addressed by SHA-256 (the store's
 * `putBlob`/`hasBlob`/`openBlob` delegate here). Two places, chosen by the engine:
 *
 * - the embedded server (SQLite): files in a directory of its own (file-target-blobs.ts), so
 *   bundles of tens of megabytes never pass through the WAL every other domain shares;
 * - replicas on PostgreSQL: the database itself, in chunks (sql-target-blobs.ts), so any replica
 *   serves what another accepted and no shared volume is needed. Uploads are capped at
 *   48 MiB per request (update-repository-routes.ts), far below what BYTEA chunks carry.
 */
import type { Readable } from 'node:stream';
import type { SqlDatabase } from '../db/sql-database.ts';
import { FileTargetBlobs } from './file-target-blobs.ts';
import { SqlTargetBlobs } from './sql-target-blobs.ts';

export interface TargetBlobs {
  /** Stores bytes by their SHA-256 (computed here; idempotent), durably before it resolves. */
  put(bytes: Uint8Array): Promise<{ sha256: string; length: number }>;
  has(sha256: string): Promise<boolean>;
  /** The bytes, streamed; undefined when absent. */
  open(sha256: string): Promise<{ length: number; stream: Readable } | undefined>;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The server's choice: files in `blobDir` on SQLite, the database on PostgreSQL (see above). */
export function targetBlobsFor(database: Pick<SqlDatabase, 'engine' | 'db'>, blobDir: string): TargetBlobs {
  return database.engine === 'postgres' ? new SqlTargetBlobs(database.db) : new FileTargetBlobs(blobDir);
}
