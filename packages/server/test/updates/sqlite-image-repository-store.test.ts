import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteImageRepositoryStore } from '../../src/updates/sqlite-image-repository-store.ts';
import { describeImageRepositoryStoreContract } from './image-repository-store-contract.ts';

function openStore() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-tufstore-'));
  const file = path.join(dir, 'db.sqlite');
  const blobDir = path.join(dir, 'tuf-targets');
  let db: SqliteDatabase = openDatabase(file);
  return {
    dir, blobDir,
    store: new SqliteImageRepositoryStore(db, { blobDir }),
    async reopen() {
      db.close();
      db = openDatabase(file);
      return new SqliteImageRepositoryStore(db, { blobDir });
    },
  };
}

describeImageRepositoryStoreContract('SQLite and content-addressed files', async () => openStore());

describe('SqliteImageRepositoryStore', () => {
  it('writes each blob as one file named by its hash, readable by the server only, with no temporary left', async () => {
    const { store, blobDir } = openStore();
    const { sha256 } = await store.putBlob(Buffer.from('bundle'));
    expect(readdirSync(blobDir)).toEqual([sha256]);
    if (process.platform !== 'win32') expect(statSync(path.join(blobDir, sha256)).mode & 0o777).toBe(0o600);
  });
});
