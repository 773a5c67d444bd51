/**
 * The image repository's persistence port (async: a PostgreSQL implementation can follow). It
 * keeps every version of every role's metadata as the exact JSON text served, the target files
 * each repository published, and the target bytes, content-addressed by SHA-256.
 *
 * The port checks nothing about TUF: signatures, thresholds and versions are the domain's rules
 * (image-repository.ts). It does guarantee that a (repository, role, version) is stored once, and
 * that `appendMetadata` stores all of its records or none.
 */
import type { Readable } from 'node:stream';
import type { UpdateStream } from '@shellguard/protocol';

export const TUF_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type TufRole = (typeof TUF_ROLES)[number];

export interface RepositoryId {
  product: string;
  stream: UpdateStream;
}

export interface StoredMetadata {
  role: TufRole;
  version: number;
  /** The exact JSON text served for this version. */
  json: string;
  /** The metadata's `expires`, ms since epoch. */
  expiresAt: number;
  storedAt: number;
}

/** A target file a repository's targets metadata has named (its bytes are a blob by sha256). */
export interface StoredTargetFile {
  name: string;
  sha256: string;
  length: number;
}

export interface StoredRepository extends RepositoryId {
  createdAt: number;
}

export interface ImageRepositoryStore {
  /** Creates the repository with its first root; false when it exists already (nothing changes). */
  createRepository(id: RepositoryId, root: StoredMetadata): Promise<boolean>;
  /** Every repository, by product then stream. */
  repositories(): Promise<StoredRepository[]>;
  /**
   * Stores these metadata versions and target files in one transaction. False, and nothing stored,
   * when the repository is unknown or one of the (role, version) is stored already (a concurrent writer won).
   */
  appendMetadata(id: RepositoryId, records: readonly StoredMetadata[], files?: readonly StoredTargetFile[]): Promise<boolean>;
  /** The highest version of a role. */
  latestMetadata(id: RepositoryId, role: TufRole): Promise<StoredMetadata | undefined>;
  metadata(id: RepositoryId, role: TufRole, version: number): Promise<StoredMetadata | undefined>;
  /** A target file the repository published under this name with this sha256. */
  targetFile(id: RepositoryId, name: string, sha256: string): Promise<StoredTargetFile | undefined>;
  /** Stores bytes by their SHA-256 (computed here; idempotent), durably before it resolves. */
  putBlob(bytes: Uint8Array): Promise<{ sha256: string; length: number }>;
  hasBlob(sha256: string): Promise<boolean>;
  /** The bytes of a blob, streamed; undefined when absent. */
  openBlob(sha256: string): Promise<{ length: number; stream: Readable } | undefined>;
}
