/**
 * The ImageRepositoryStore port's contract, on every engine and with each place target bytes can
 * live (STYLE.md §2): files beside SQLite (the embedded server), the database on PostgreSQL (replicas),
 * and the database on SQLite too (the same code, so it is checked on both engines).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlEngine, SqlExecutor } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { FileTargetBlobs } from '../../src/updates/file-target-blobs.ts';
import type { RepositoryId, StoredMetadata } from '../../src/updates/image-repository-store.ts';
import { IMAGE_REPOSITORY_MIGRATIONS } from '../../src/updates/image-repository-schema.ts';
import { SqlImageRepositoryStore } from '../../src/updates/sql-image-repository-store.ts';
import { BLOB_CHUNK_BYTES, SqlTargetBlobs } from '../../src/updates/sql-target-blobs.ts';
import { targetBlobsFor, type TargetBlobs } from '../../src/updates/target-blobs.ts';

const app: RepositoryId = { product: 'shellguard-guardian', stream: 'application' };
const platform: RepositoryId = { product: 'shellguard-guardian', stream: 'platform' };
const md = (role: StoredMetadata['role'], version: number, at = 1): StoredMetadata => ({
  role, version, json: JSON.stringify({ signed: { _type: role, version } }), expiresAt: 1_000 + version, storedAt: at,
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

type BlobPlace = 'files' | 'database';
const CASES: [SqlEngine, BlobPlace][] = [...SQL_ENGINES.map((e): [SqlEngine, BlobPlace] => [e, 'database']), ['sqlite', 'files']];

/** Another replica's handle on PostgreSQL; on SQLite (one server's file, one connection) the same server's. */
const replica = (t: TestDatabase) => (t.engine === 'postgres' ? t.reopen() : t.database);

describe.each(CASES)('ImageRepositoryStore contract on %s, target bytes in %s', (engine, place) => {
  let t: TestDatabase;
  let blobDir: string;
  const blobsOn = (exec: SqlExecutor): TargetBlobs => (place === 'files' ? new FileTargetBlobs(blobDir) : new SqlTargetBlobs(exec));
  const storeOn = (exec: SqlExecutor) => new SqlImageRepositoryStore(exec, { engine, blobs: blobsOn(exec) });
  let store: SqlImageRepositoryStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'tufstore');
    blobDir = path.join(mkdtempSync(path.join(tmpdir(), 'sg-tufblobs-')), 'tuf-targets');
    await runSqlMigrations(t.database, 'image-repository', IMAGE_REPOSITORY_MIGRATIONS);
    store = storeOn(t.database.db);
  });
  afterEach(async () => {
    await t.destroy();
    rmSync(path.dirname(blobDir), { recursive: true, force: true });
  });
  /** The same database through a new handle: what another process or a restart reads. */
  const again = () => storeOn(t.reopen().db);

  describe('metadata', () => {
    it('creates a repository once, with its first root, and lists repositories by product then stream', async () => {
      expect(await store.createRepository(platform, md('root', 1, 12))).toBe(true);
      expect(await store.createRepository(app, md('root', 1, 10))).toBe(true);
      expect(await store.createRepository(app, md('root', 1, 11))).toBe(false);
      expect(await store.createRepository({ product: 'Another', stream: 'application' }, md('root', 1, 13))).toBe(true);
      const reread = again();
      expect(await reread.repositories()).toEqual([
        { product: 'Another', stream: 'application', createdAt: 13 }, { ...app, createdAt: 10 }, { ...platform, createdAt: 12 },
      ]);
      expect(await reread.latestMetadata(app, 'root')).toEqual(md('root', 1, 10));
    });

    it('appends metadata versions and published files all together, and keeps the repositories apart', async () => {
      await store.createRepository(app, md('root', 1));
      await store.createRepository(platform, md('root', 1));
      expect(await store.appendMetadata(app, [md('targets', 1), md('snapshot', 1), md('timestamp', 1)], [{ name: 'a.tgz', sha256: 'a'.repeat(64), length: 3 }])).toBe(true);
      expect(await store.appendMetadata(app, [md('targets', 2), md('snapshot', 2), md('timestamp', 2)])).toBe(true);
      // A file published again under a later targets version is one row.
      expect(await store.appendMetadata(app, [md('targets', 3)], [{ name: 'a.tgz', sha256: 'a'.repeat(64), length: 3 }])).toBe(true);
      const reread = again();
      expect((await reread.latestMetadata(app, 'targets'))?.version).toBe(3);
      expect((await reread.latestMetadata(app, 'timestamp'))?.version).toBe(2);
      expect(await reread.metadata(app, 'targets', 1)).toEqual(md('targets', 1));
      expect(await reread.metadata(app, 'targets', 4)).toBeUndefined();
      expect(await reread.latestMetadata(platform, 'targets')).toBeUndefined();
      expect(await reread.targetFile(app, 'a.tgz', 'a'.repeat(64))).toEqual({ name: 'a.tgz', sha256: 'a'.repeat(64), length: 3 });
      expect(await reread.targetFile(platform, 'a.tgz', 'a'.repeat(64))).toBeUndefined();
      expect(await reread.targetFile(app, 'a.tgz', 'b'.repeat(64))).toBeUndefined();
      expect(await reread.targetFile(app, 'A.tgz', 'a'.repeat(64))).toBeUndefined();
    });

    it('orders versions as numbers, not as text', async () => {
      await store.createRepository(app, md('root', 1));
      for (const v of [2, 10, 9]) await store.appendMetadata(app, [md('timestamp', v)]);
      expect((await store.latestMetadata(app, 'timestamp'))?.version).toBe(10);
    });

    it('stores nothing of an append when one version is already stored, or the repository is unknown', async () => {
      await store.createRepository(app, md('root', 1));
      await store.appendMetadata(app, [md('snapshot', 1)]);
      expect(await store.appendMetadata(app, [md('targets', 1), md('snapshot', 1)], [{ name: 'b.tgz', sha256: 'b'.repeat(64), length: 1 }])).toBe(false);
      expect(await store.latestMetadata(app, 'targets')).toBeUndefined();
      expect(await store.targetFile(app, 'b.tgz', 'b'.repeat(64))).toBeUndefined();
      expect(await store.appendMetadata(platform, [md('targets', 1)])).toBe(false);
      expect(await store.metadata(platform, 'targets', 1)).toBeUndefined();
    });

    it('lets one of several replicas appending the same version win, and stores only its records', async () => {
      await store.createRepository(app, md('root', 1));
      const writers = [store, storeOn(replica(t).db), storeOn(replica(t).db)];
      const won = await Promise.all(writers.map((w, i) => w.appendMetadata(app, [md('snapshot', 1, i), md('timestamp', 1, i)])));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = won.indexOf(true);
      expect(await store.metadata(app, 'snapshot', 1)).toEqual(md('snapshot', 1, winner));
      expect(await store.metadata(app, 'timestamp', 1)).toEqual(md('timestamp', 1, winner));
    });

    it('refuses a refused append without undoing the rest of a caller\'s unit of work', async () => {
      await store.createRepository(app, md('root', 1));
      await store.appendMetadata(app, [md('snapshot', 1)]);
      const uow = sqlUnitOfWork(t.database, (tx) => storeOn(tx));
      await uow.run(async (s) => {
        expect(await s.appendMetadata(app, [md('targets', 1)])).toBe(true);
        expect(await s.appendMetadata(app, [md('snapshot', 1)])).toBe(false);
      });
      expect((await store.latestMetadata(app, 'targets'))?.version).toBe(1);
    });

    it('stores nothing of a unit of work that fails', async () => {
      const uow = sqlUnitOfWork(t.database, (tx) => storeOn(tx));
      await expect(uow.run(async (s) => {
        await s.createRepository(app, md('root', 1));
        await s.appendMetadata(app, [md('targets', 1)], [{ name: 'a.tgz', sha256: 'a'.repeat(64), length: 3 }]);
        throw new Error('fails half-way');
      })).rejects.toThrow('half-way');
      expect(await store.repositories()).toEqual([]);
      expect(await store.targetFile(app, 'a.tgz', 'a'.repeat(64))).toBeUndefined();
    });
  });

  describe('target bytes', () => {
    it('keeps target bytes by their SHA-256, streams them with their length, and stores the same bytes once', async () => {
      const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a);
      bytes.write('start', 0);
      bytes.write('end', bytes.length - 3);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      expect(await store.putBlob(bytes)).toEqual({ sha256, length: bytes.length });
      expect(await store.putBlob(bytes)).toEqual({ sha256, length: bytes.length });
      const reread = again();
      expect(await reread.hasBlob(sha256)).toBe(true);
      const blob = await reread.openBlob(sha256);
      expect(blob?.length).toBe(bytes.length);
      expect((await readAll(blob!.stream)).equals(bytes)).toBe(true);
      expect(await reread.hasBlob('0'.repeat(64))).toBe(false);
      expect(await reread.openBlob('0'.repeat(64))).toBeUndefined();
      expect(await reread.hasBlob('../../etc/passwd')).toBe(false);
      expect(await reread.openBlob('../../etc/passwd')).toBeUndefined();
    });

    it('stores empty bytes, bytes of exactly one chunk, and a view into a larger buffer', async () => {
      const backing = Buffer.alloc(BLOB_CHUNK_BYTES + 10, 7);
      backing.write('view', 5);
      for (const bytes of [Buffer.alloc(0), Buffer.alloc(BLOB_CHUNK_BYTES, 1), backing.subarray(5, 5 + BLOB_CHUNK_BYTES + 1)]) {
        const { sha256, length } = await store.putBlob(bytes);
        expect(length).toBe(bytes.length);
        const blob = await store.openBlob(sha256);
        expect(blob?.length).toBe(bytes.length);
        expect((await readAll(blob!.stream)).equals(bytes)).toBe(true);
      }
    });

    it('stores the same bytes once when several replicas put them at once', async () => {
      const bytes = Buffer.alloc(2 * BLOB_CHUNK_BYTES + 1, 3);
      const writers = [store, storeOn(replica(t).db)];
      const [a, b] = await Promise.all(writers.map((w) => w.putBlob(bytes)));
      expect(a).toEqual(b);
      expect((await readAll((await store.openBlob(a!.sha256))!.stream)).equals(bytes)).toBe(true);
    });

    it.runIf(place === 'files')('writes each blob as one file named by its hash, readable by the server only, with no temporary left', async () => {
      const { sha256 } = await store.putBlob(Buffer.from('bundle'));
      expect(readdirSync(blobDir)).toEqual([sha256]);
      if (process.platform !== 'win32') expect(statSync(path.join(blobDir, sha256)).mode & 0o777).toBe(0o600);
    });

    it.runIf(place === 'database')('keeps the bytes in the database, in chunks, with nothing on disk', async () => {
      const { sha256 } = await store.putBlob(Buffer.alloc(BLOB_CHUNK_BYTES + 1, 9));
      const chunks = await t.database.db.selectFrom('tuf_blob_chunks').select('seq').where('sha256', '=', sha256).orderBy('seq').execute();
      expect(chunks.map((c) => c.seq)).toEqual([0, 1]);
      expect(() => readdirSync(blobDir)).toThrow();
    });
  });

  it('is what the server builds: files on SQLite, the database on PostgreSQL', () => {
    expect(targetBlobsFor(t.database, blobDir)).toBeInstanceOf(engine === 'postgres' ? SqlTargetBlobs : FileTargetBlobs);
  });
});
