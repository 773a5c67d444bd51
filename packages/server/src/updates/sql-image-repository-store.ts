/**
 * {@link ImageRepositoryStore} on the server's database, either engine (issue 12): metadata and
 * which targets each repository published in tables (image-repository-schema.ts), target bytes
 * wherever its {@link TargetBlobs} keep them (target-blobs.ts says which, and why).
 */
import type { Kysely } from 'kysely';
import { inTransaction, type SqlEngine, type SqlExecutor } from '../db/sql-database.ts';
import type {
  ImageRepositoryStore, RepositoryId, StoredMetadata, StoredRepository, StoredTargetFile, TufRole,
} from './image-repository-store.ts';
import type { TargetBlobs } from './target-blobs.ts';

interface RepositoryTables {
  tuf_repositories: { product: string; stream: string; created_at: number };
  tuf_metadata: { product: string; stream: string; role: string; version: number; json: string; expires_at: number; stored_at: number };
  tuf_target_files: { product: string; stream: string; name: string; sha256: string; length: number };
}

type MetadataRow = Pick<RepositoryTables['tuf_metadata'], 'role' | 'version' | 'json' | 'expires_at' | 'stored_at'>;
const toMetadata = (r: MetadataRow): StoredMetadata => ({
  role: r.role as TufRole, version: r.version, json: r.json, expiresAt: r.expires_at, storedAt: r.stored_at,
});
const METADATA_COLUMNS = ['role', 'version', 'json', 'expires_at', 'stored_at'] as const;

export interface SqlImageRepositoryStoreOptions {
  engine: SqlEngine;
  /** Where target bytes are kept: `targetBlobsFor(database, blobDir)` on a server. */
  blobs: TargetBlobs;
}

export class SqlImageRepositoryStore implements ImageRepositoryStore {
  private readonly db: Kysely<RepositoryTables>;

  constructor(exec: SqlExecutor, private readonly options: SqlImageRepositoryStoreOptions) {
    this.db = exec as Kysely<RepositoryTables>;
  }

  async createRepository(id: RepositoryId, root: StoredMetadata): Promise<boolean> {
    return inTransaction(this.db, async (tx: Kysely<RepositoryTables>) => {
      const created = await tx.insertInto('tuf_repositories').values({ product: id.product, stream: id.stream, created_at: root.storedAt })
        .onConflict((oc) => oc.columns(['product', 'stream']).doNothing()).returning('product').executeTakeFirst();
      if (!created) return false;
      await tx.insertInto('tuf_metadata').values(metadataRow(id, root)).execute();
      return true;
    });
  }

  async repositories(): Promise<StoredRepository[]> {
    const rows = await this.db.selectFrom('tuf_repositories').selectAll().orderBy('product').orderBy('stream').execute();
    return rows.map((r) => ({ product: r.product, stream: r.stream as StoredRepository['stream'], createdAt: r.created_at }));
  }

  async appendMetadata(id: RepositoryId, records: readonly StoredMetadata[], files: readonly StoredTargetFile[] = []): Promise<boolean> {
    return inTransaction(this.db, async (tx: Kysely<RepositoryTables>) => {
      // Appenders of one repository take turns on its row (PostgreSQL; SQLite's write lock already
      // serialises them), so "none of these versions is stored" still holds when they are inserted:
      // a refusal writes nothing, without rolling back a caller's transaction.
      let repository = tx.selectFrom('tuf_repositories').select('product').where('product', '=', id.product).where('stream', '=', id.stream);
      if (this.options.engine === 'postgres') repository = repository.forUpdate();
      if (!await repository.executeTakeFirst()) return false;
      for (const r of records) {
        const taken = await tx.selectFrom('tuf_metadata').select('version')
          .where('product', '=', id.product).where('stream', '=', id.stream).where('role', '=', r.role).where('version', '=', r.version)
          .executeTakeFirst();
        if (taken) return false;
      }
      if (records.length > 0) await tx.insertInto('tuf_metadata').values(records.map((r) => metadataRow(id, r))).execute();
      if (files.length > 0) {
        await tx.insertInto('tuf_target_files')
          .values(files.map((f) => ({ product: id.product, stream: id.stream, name: f.name, sha256: f.sha256, length: f.length })))
          .onConflict((oc) => oc.doNothing()).execute();
      }
      return true;
    });
  }

  async latestMetadata(id: RepositoryId, role: TufRole): Promise<StoredMetadata | undefined> {
    const r = await this.db.selectFrom('tuf_metadata').select(METADATA_COLUMNS)
      .where('product', '=', id.product).where('stream', '=', id.stream).where('role', '=', role)
      .orderBy('version', 'desc').limit(1).executeTakeFirst();
    return r && toMetadata(r);
  }

  async metadata(id: RepositoryId, role: TufRole, version: number): Promise<StoredMetadata | undefined> {
    const r = await this.db.selectFrom('tuf_metadata').select(METADATA_COLUMNS)
      .where('product', '=', id.product).where('stream', '=', id.stream).where('role', '=', role).where('version', '=', version)
      .executeTakeFirst();
    return r && toMetadata(r);
  }

  async targetFile(id: RepositoryId, name: string, sha256: string): Promise<StoredTargetFile | undefined> {
    return this.db.selectFrom('tuf_target_files').select(['name', 'sha256', 'length'])
      .where('product', '=', id.product).where('stream', '=', id.stream).where('name', '=', name).where('sha256', '=', sha256)
      .executeTakeFirst();
  }

  putBlob(bytes: Uint8Array): Promise<{ sha256: string; length: number }> {
    return this.options.blobs.put(bytes);
  }

  hasBlob(sha256: string): Promise<boolean> {
    return this.options.blobs.has(sha256);
  }

  openBlob(sha256: string): ReturnType<ImageRepositoryStore['openBlob']> {
    return this.options.blobs.open(sha256);
  }
}

function metadataRow(id: RepositoryId, r: StoredMetadata): RepositoryTables['tuf_metadata'] {
  return { product: id.product, stream: id.stream, role: r.role, version: r.version, json: r.json, expires_at: r.expiresAt, stored_at: r.storedAt };
}
