/**
 * The image repository in the server's SQLite database (metadata, which targets each repository
 * published) and in a directory of content-addressed files (target bytes).
 *
 * Why the bytes are files and not BLOBs: bundles are tens of megabytes. As BLOBs each upload would
 * pass twice through the WAL of the database every other domain shares (and bloat its backups and
 * checkpoints), and serving one would mean reading it whole into memory or using incremental BLOB
 * I/O. As immutable files named by their SHA-256 they stream with a known length, deduplicate by
 * themselves, and are written once: temporary file, fsync, rename, fsync of the directory, so a
 * crash leaves either no file or the whole file. A blob whose metadata then failed to commit is an
 * unreferenced file: harmless (nothing serves a blob that no stored target names) and reclaimable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import { fsyncDirectory } from '../audit/fsync-directory.ts';
import type {
  ImageRepositoryStore, RepositoryId, StoredMetadata, StoredRepository, StoredTargetFile, TufRole,
} from './image-repository-store.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'TUF image repositories: metadata versions per role, published target files',
    up(db) {
      db.exec(`CREATE TABLE tuf_repositories (
        product TEXT NOT NULL, stream TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (product, stream))`);
      db.exec(`CREATE TABLE tuf_metadata (
        product TEXT NOT NULL, stream TEXT NOT NULL, role TEXT NOT NULL, version INTEGER NOT NULL,
        json TEXT NOT NULL, expires_at INTEGER NOT NULL, stored_at INTEGER NOT NULL,
        PRIMARY KEY (product, stream, role, version),
        FOREIGN KEY (product, stream) REFERENCES tuf_repositories (product, stream))`);
      db.exec(`CREATE TABLE tuf_target_files (
        product TEXT NOT NULL, stream TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, length INTEGER NOT NULL,
        PRIMARY KEY (product, stream, name, sha256),
        FOREIGN KEY (product, stream) REFERENCES tuf_repositories (product, stream))`);
    },
  },
];

const SHA256 = /^[0-9a-f]{64}$/;

interface MetadataRow { role: string; version: number; json: string; expires_at: number; stored_at: number }
const toMetadata = (r: MetadataRow): StoredMetadata => ({
  role: r.role as TufRole, version: r.version, json: r.json, expiresAt: r.expires_at, storedAt: r.stored_at,
});

export interface SqliteImageRepositoryStoreOptions {
  /** Where target bytes are kept, one file per SHA-256 (created 0700 if missing). */
  blobDir: string;
}

export class SqliteImageRepositoryStore implements ImageRepositoryStore {
  private readonly blobDir: string;
  private readonly stmt;

  constructor(private readonly db: SqliteDatabase, options: SqliteImageRepositoryStoreOptions) {
    runMigrations(db, 'image-repository', MIGRATIONS);
    this.blobDir = options.blobDir;
    mkdirSync(this.blobDir, { recursive: true, mode: 0o700 });
    this.stmt = {
      insertRepository: db.prepare('INSERT INTO tuf_repositories (product, stream, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      repositoryExists: db.prepare('SELECT 1 FROM tuf_repositories WHERE product = ? AND stream = ?'),
      repositories: db.prepare('SELECT product, stream, created_at FROM tuf_repositories ORDER BY product, stream'),
      insertMetadata: db.prepare(`INSERT INTO tuf_metadata (product, stream, role, version, json, expires_at, stored_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      insertFile: db.prepare('INSERT INTO tuf_target_files (product, stream, name, sha256, length) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      latest: db.prepare('SELECT role, version, json, expires_at, stored_at FROM tuf_metadata WHERE product = ? AND stream = ? AND role = ? ORDER BY version DESC LIMIT 1'),
      version: db.prepare('SELECT role, version, json, expires_at, stored_at FROM tuf_metadata WHERE product = ? AND stream = ? AND role = ? AND version = ?'),
      file: db.prepare('SELECT name, sha256, length FROM tuf_target_files WHERE product = ? AND stream = ? AND name = ? AND sha256 = ?'),
    };
  }

  async createRepository(id: RepositoryId, root: StoredMetadata): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.stmt.insertRepository.run(id.product, id.stream, root.storedAt).changes === 0) return false;
      this.stmt.insertMetadata.run(id.product, id.stream, root.role, root.version, root.json, root.expiresAt, root.storedAt);
      return true;
    })();
  }

  async repositories(): Promise<StoredRepository[]> {
    return (this.stmt.repositories.all() as { product: string; stream: StoredRepository['stream']; created_at: number }[])
      .map((r) => ({ product: r.product, stream: r.stream, createdAt: r.created_at }));
  }

  async appendMetadata(id: RepositoryId, records: readonly StoredMetadata[], files: readonly StoredTargetFile[] = []): Promise<boolean> {
    const abort = new Error('abort');
    try {
      this.db.transaction(() => {
        if (!this.stmt.repositoryExists.get(id.product, id.stream)) throw abort;
        for (const r of records) {
          if (this.stmt.insertMetadata.run(id.product, id.stream, r.role, r.version, r.json, r.expiresAt, r.storedAt).changes === 0) throw abort;
        }
        for (const f of files) this.stmt.insertFile.run(id.product, id.stream, f.name, f.sha256, f.length);
      })();
      return true;
    } catch (err) {
      if (err === abort) return false;
      throw err;
    }
  }

  async latestMetadata(id: RepositoryId, role: TufRole): Promise<StoredMetadata | undefined> {
    const r = this.stmt.latest.get(id.product, id.stream, role) as MetadataRow | undefined;
    return r && toMetadata(r);
  }

  async metadata(id: RepositoryId, role: TufRole, version: number): Promise<StoredMetadata | undefined> {
    const r = this.stmt.version.get(id.product, id.stream, role, version) as MetadataRow | undefined;
    return r && toMetadata(r);
  }

  async targetFile(id: RepositoryId, name: string, sha256: string): Promise<StoredTargetFile | undefined> {
    return this.stmt.file.get(id.product, id.stream, name, sha256) as StoredTargetFile | undefined;
  }

  async putBlob(bytes: Uint8Array): Promise<{ sha256: string; length: number }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const file = this.blobPath(sha256);
    if (existsSync(file) && statSync(file).size === bytes.length) return { sha256, length: bytes.length };
    const tmp = path.join(this.blobDir, `.${sha256}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(tmp);
      throw err;
    }
    closeSync(fd);
    renameSync(tmp, file);
    fsyncDirectory(this.blobDir);
    return { sha256, length: bytes.length };
  }

  async hasBlob(sha256: string): Promise<boolean> {
    return SHA256.test(sha256) && existsSync(this.blobPath(sha256));
  }

  async openBlob(sha256: string): Promise<{ length: number; stream: ReturnType<typeof createReadStream> } | undefined> {
    if (!SHA256.test(sha256)) return undefined;
    const file = this.blobPath(sha256);
    let length: number;
    try {
      length = statSync(file).size;
    } catch {
      return undefined;
    }
    return { length, stream: createReadStream(file) };
  }

  private blobPath(sha256: string): string {
    return path.join(this.blobDir, sha256);
  }
}
