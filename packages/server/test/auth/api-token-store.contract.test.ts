/** The ApiTokenStore port's contract, on every engine (STYLE.md §2). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredApiToken } from '../../src/auth/api-token-store.ts';
import { API_TOKEN_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import { SqlApiTokenStore } from '../../src/auth/sql-api-token-store.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';

const token = (id: string, over: Partial<StoredApiToken> = {}): StoredApiToken => ({
  id, name: `token ${id}`, role: 'engineer', secretSha256: Buffer.alloc(32, id.charCodeAt(0)), createdAt: 1_000, lastUsedAt: null, revokedAt: null, ...over,
});

/** Another replica's handle on PostgreSQL; on SQLite (one server's file, one connection) the same server's. */
const replica = (t: TestDatabase) => (t.engine === 'postgres' ? t.reopen() : t.database);

describe.each(SQL_ENGINES)('ApiTokenStore contract on %s', (engine) => {
  let t: TestDatabase;
  let store: SqlApiTokenStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'tokens');
    await runSqlMigrations(t.database, 'auth', API_TOKEN_MIGRATIONS);
    store = new SqlApiTokenStore(t.database.db, { engine });
  });
  afterEach(async () => { await t.destroy(); });

  it('stores a token with its secret hash as bytes, and refuses a second with the same id', async () => {
    await store.insertToken(token('aa00000000000001'));
    const found = await store.findToken('aa00000000000001');
    expect(found).toEqual(token('aa00000000000001'));
    expect(Buffer.isBuffer(found?.secretSha256)).toBe(true);
    await expect(store.insertToken(token('aa00000000000001', { name: 'again' }))).rejects.toThrow();
    expect(await store.findToken('AA00000000000001')).toBeUndefined();
    expect(await store.findToken('ffffffffffffffff')).toBeUndefined();
  });

  it('lists tokens oldest first, then by id', async () => {
    await store.insertToken(token('c000000000000000', { createdAt: 2_000 }));
    await store.insertToken(token('b000000000000000', { createdAt: 1_000 }));
    await store.insertToken(token('a000000000000000', { createdAt: 2_000 }));
    expect((await store.listTokens()).map((x) => x.id)).toEqual(['b000000000000000', 'a000000000000000', 'c000000000000000']);
  });

  it('revokes a token once', async () => {
    await store.insertToken(token('a000000000000000'));
    expect(await store.revokeToken('a000000000000000', 5_000)).toBe(true);
    expect(await store.revokeToken('a000000000000000', 6_000)).toBe(false);
    expect(await store.revokeToken('ffffffffffffffff', 6_000)).toBe(false);
    expect((await store.findToken('a000000000000000'))?.revokedAt).toBe(5_000);
  });

  it('remembers the latest use, whichever replica reports it first', async () => {
    await store.insertToken(token('a000000000000000'));
    await store.recordUse('a000000000000000', 9_000);
    await store.recordUse('a000000000000000', 8_000);
    expect((await store.findToken('a000000000000000'))?.lastUsedAt).toBe(9_000);
  });

  it('stores the first admin token only while no unrevoked admin token exists', async () => {
    await store.insertToken(token('e000000000000000', { role: 'engineer' }));
    expect(await store.insertFirstAdminToken(token('a000000000000001', { role: 'admin' }))).toBe(true);
    expect(await store.insertFirstAdminToken(token('a000000000000002', { role: 'admin' }))).toBe(false);
    await store.revokeToken('a000000000000001', 2_000);
    expect(await store.insertFirstAdminToken(token('a000000000000003', { role: 'admin' }))).toBe(true);
    expect((await store.listTokens()).map((x) => x.id)).toEqual(['a000000000000001', 'a000000000000003', 'e000000000000000']);
  });

  it('makes one first admin token when several replicas start at once', async () => {
    const replicas = [store, new SqlApiTokenStore(replica(t).db, { engine }), new SqlApiTokenStore(replica(t).db, { engine })];
    const made = await Promise.all(replicas.map((r, i) => r.insertFirstAdminToken(token(`a00000000000000${i}`, { role: 'admin' }))));
    expect(made.filter(Boolean)).toHaveLength(1);
    expect(await store.listTokens()).toHaveLength(1);
  });

  it('stores nothing of a unit of work that fails', async () => {
    const uow = sqlUnitOfWork(t.database, (tx) => new SqlApiTokenStore(tx, { engine }));
    await expect(uow.run(async (s) => {
      await s.insertToken(token('a000000000000000'));
      expect(await s.insertFirstAdminToken(token('b000000000000000', { role: 'admin' }))).toBe(true);
      throw new Error('fails half-way');
    })).rejects.toThrow('half-way');
    expect(await store.listTokens()).toEqual([]);
  });
});
