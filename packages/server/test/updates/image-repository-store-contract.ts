/**
 * The contract of the ImageRepositoryStore port: every implementation runs this suite.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ImageRepositoryStore, RepositoryId, StoredMetadata } from '../../src/updates/image-repository-store.ts';

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

export function describeImageRepositoryStoreContract(name: string, open: () => Promise<{ store: ImageRepositoryStore; reopen(): Promise<ImageRepositoryStore> }>): void {
  describe(`ImageRepositoryStore contract: ${name}`, () => {
    it('creates a repository once, with its first root, and lists repositories by product then stream', async () => {
      const { store, reopen } = await open();
      expect(await store.createRepository(app, md('root', 1, 10))).toBe(true);
      expect(await store.createRepository(app, md('root', 1, 11))).toBe(false);
      expect(await store.createRepository(platform, md('root', 1, 12))).toBe(true);
      const again = await reopen();
      expect(await again.repositories()).toEqual([
        { ...app, createdAt: 10 }, { ...platform, createdAt: 12 },
      ]);
      expect(await again.latestMetadata(app, 'root')).toEqual(md('root', 1, 10));
    });

    it('appends metadata versions and published files all together, and keeps the repositories apart', async () => {
      const { store, reopen } = await open();
      await store.createRepository(app, md('root', 1));
      await store.createRepository(platform, md('root', 1));
      expect(await store.appendMetadata(app, [md('targets', 1), md('snapshot', 1), md('timestamp', 1)], [{ name: 'a.tgz', sha256: 'a'.repeat(64), length: 3 }])).toBe(true);
      expect(await store.appendMetadata(app, [md('targets', 2), md('snapshot', 2), md('timestamp', 2)])).toBe(true);
      const again = await reopen();
      expect((await again.latestMetadata(app, 'targets'))?.version).toBe(2);
      expect((await again.metadata(app, 'targets', 1))?.json).toBe(md('targets', 1).json);
      expect(await again.metadata(app, 'targets', 3)).toBeUndefined();
      expect(await again.latestMetadata(platform, 'targets')).toBeUndefined();
      expect(await again.targetFile(app, 'a.tgz', 'a'.repeat(64))).toEqual({ name: 'a.tgz', sha256: 'a'.repeat(64), length: 3 });
      expect(await again.targetFile(platform, 'a.tgz', 'a'.repeat(64))).toBeUndefined();
      expect(await again.targetFile(app, 'a.tgz', 'b'.repeat(64))).toBeUndefined();
    });

    it('stores nothing of an append when one version is already stored, or the repository is unknown', async () => {
      const { store } = await open();
      await store.createRepository(app, md('root', 1));
      await store.appendMetadata(app, [md('snapshot', 1)]);
      expect(await store.appendMetadata(app, [md('targets', 1), md('snapshot', 1)], [{ name: 'b.tgz', sha256: 'b'.repeat(64), length: 1 }])).toBe(false);
      expect(await store.latestMetadata(app, 'targets')).toBeUndefined();
      expect(await store.targetFile(app, 'b.tgz', 'b'.repeat(64))).toBeUndefined();
      expect(await store.appendMetadata(platform, [md('targets', 1)])).toBe(false);
    });

    it('keeps target bytes by their SHA-256, streams them with their length, and stores the same bytes once', async () => {
      const { store, reopen } = await open();
      const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      expect(await store.putBlob(bytes)).toEqual({ sha256, length: bytes.length });
      expect(await store.putBlob(bytes)).toEqual({ sha256, length: bytes.length });
      const again = await reopen();
      expect(await again.hasBlob(sha256)).toBe(true);
      const blob = await again.openBlob(sha256);
      expect(blob?.length).toBe(bytes.length);
      expect((await readAll(blob!.stream)).equals(bytes)).toBe(true);
      expect(await again.openBlob('0'.repeat(64))).toBeUndefined();
      expect(await again.hasBlob('../../etc/passwd')).toBe(false);
      expect(await again.openBlob('../../etc/passwd')).toBeUndefined();
    });
  });
}
