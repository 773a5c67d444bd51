/**
 * Target bytes in the database, in chunks of 1 MiB (replicas on PostgreSQL; see target-blobs.ts).
 * Chunks keep every statement small: a bundle is written and streamed a megabyte at a time, never
 * held in one parameter or one result row. The blob row and all its chunks commit together, so a
 * blob is whole or absent; two replicas storing the same bytes at once store them once (the
 * second waits on the first's row, then finds it).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { inTransaction, type SqlExecutor } from '../db/sql-database.ts';
import { SHA256_HEX, type TargetBlobs } from './target-blobs.ts';

interface BlobTables {
  tuf_blobs: { sha256: string; length: number; stored_at: number };
  tuf_blob_chunks: { sha256: string; seq: number; bytes: Buffer };
}

export const BLOB_CHUNK_BYTES = 1024 * 1024;

export class SqlTargetBlobs implements TargetBlobs {
  private readonly db: Kysely<BlobTables>;
  private readonly now: () => number;

  constructor(exec: SqlExecutor, options: { now?: () => number } = {}) {
    this.db = exec as Kysely<BlobTables>;
    this.now = options.now ?? Date.now;
  }

  async put(bytes: Uint8Array): Promise<{ sha256: string; length: number }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await inTransaction(this.db, async (tx: Kysely<BlobTables>) => {
      const claimed = await tx.insertInto('tuf_blobs').values({ sha256, length: bytes.length, stored_at: this.now() })
        .onConflict((oc) => oc.column('sha256').doNothing()).returning('sha256').executeTakeFirst();
      if (!claimed) return; // stored already (content-addressed: the same bytes)
      for (let seq = 0, offset = 0; offset < bytes.length; seq++, offset += BLOB_CHUNK_BYTES) {
        const chunk = Buffer.from(bytes.buffer, bytes.byteOffset + offset, Math.min(BLOB_CHUNK_BYTES, bytes.length - offset));
        await tx.insertInto('tuf_blob_chunks').values({ sha256, seq, bytes: chunk }).execute();
      }
    });
    return { sha256, length: bytes.length };
  }

  async has(sha256: string): Promise<boolean> {
    if (!SHA256_HEX.test(sha256)) return false;
    return (await this.db.selectFrom('tuf_blobs').select('sha256').where('sha256', '=', sha256).executeTakeFirst()) !== undefined;
  }

  async open(sha256: string): Promise<{ length: number; stream: Readable } | undefined> {
    if (!SHA256_HEX.test(sha256)) return undefined;
    const blob = await this.db.selectFrom('tuf_blobs').select('length').where('sha256', '=', sha256).executeTakeFirst();
    if (!blob) return undefined;
    const chunks = Math.ceil(blob.length / BLOB_CHUNK_BYTES);
    const db = this.db;
    async function* read(): AsyncGenerator<Buffer> {
      for (let seq = 0; seq < chunks; seq++) {
        const row = await db.selectFrom('tuf_blob_chunks').select('bytes').where('sha256', '=', sha256).where('seq', '=', seq).executeTakeFirst();
        if (!row) throw new Error(`target blob ${sha256} lacks chunk ${seq}`);
        yield Buffer.isBuffer(row.bytes) ? row.bytes : Buffer.from(row.bytes);
      }
    }
    return { length: blob.length, stream: Readable.from(read(), { objectMode: false }) };
  }
}
