import { afterEach, describe, expect, it } from 'vitest';
import { ApiTokens, ensureAdminToken } from '../../src/auth/api-tokens.ts';
import { API_TOKEN_MIGRATIONS } from '../../src/auth/auth-schema.ts';
import { SqlApiTokenStore } from '../../src/auth/sql-api-token-store.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';

let database: SqlDatabase | undefined;
afterEach(async () => { await database?.close(); });

async function setup(now = () => 1_000) {
  database = openSqliteSqlDatabase(':memory:');
  await runSqlMigrations(database, 'auth', API_TOKEN_MIGRATIONS);
  const store = new SqlApiTokenStore(database.db, { engine: database.engine });
  return { db: database.sqlite!.handle, store, tokens: new ApiTokens(store, { now }) };
}

describe('ApiTokens', () => {
  it('creates sgt_<id>_<secret> tokens with a 32-byte secret and stores only its hash', async () => {
    const { db, tokens } = await setup();
    const created = await tokens.create('ci', 'engineer');
    expect(created.token).toMatch(/^sgt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(created.token.split('_').slice(2).join('_'), 'base64url')).toHaveLength(32);
    const dump = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
    const secret = created.token.slice(4 + 16 + 1);
    expect(dump).not.toContain(secret);
    expect(await tokens.verify(created.token)).toEqual({ tokenId: created.tokenId, name: 'ci', role: 'engineer' });
  });

  it('refuses a wrong secret, an unknown id, garbage and a revoked token', async () => {
    const { tokens } = await setup();
    const { token, tokenId } = await tokens.create('ci', 'viewer');
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(await tokens.verify(flipped)).toBeUndefined();
    expect(await tokens.verify(`sgt_0000000000000000_${token.slice(-43)}`)).toBeUndefined();
    expect(await tokens.verify('')).toBeUndefined();
    expect(await tokens.verify('Bearer nonsense')).toBeUndefined();
    expect(await tokens.revoke(tokenId)).toBe(true);
    expect(await tokens.revoke(tokenId)).toBe(false);
    expect(await tokens.verify(token)).toBeUndefined();
  });

  it('refuses an unknown role and a name that is empty or too long', async () => {
    const { tokens } = await setup();
    await expect(tokens.create('x', 'root' as never)).rejects.toThrow(expect.objectContaining({ code: 'auth_bad_role' }));
    await expect(tokens.create('  ', 'viewer')).rejects.toThrow(expect.objectContaining({ code: 'auth_bad_name' }));
    await expect(tokens.create('x'.repeat(201), 'viewer')).rejects.toThrow(expect.objectContaining({ code: 'auth_bad_name' }));
    expect(await tokens.list()).toEqual([]);
  });

  it('refuses a token whose stored role this server does not know', async () => {
    const { db, tokens } = await setup();
    const { token } = await tokens.create('ci', 'viewer');
    db.prepare("UPDATE api_tokens SET role = 'overlord'").run();
    expect(await tokens.verify(token)).toBeUndefined();
  });

  it('records when a token was last used, at most once a minute', async () => {
    let t = 1_000;
    const { tokens } = await setup(() => t);
    const { token } = await tokens.create('ci', 'viewer');
    expect((await tokens.list())[0]!.lastUsedAt).toBeNull();
    t = 5_000;
    await tokens.verify(token);
    expect((await tokens.list())[0]!.lastUsedAt).toBe(5_000);
    t = 30_000;
    await tokens.verify(token);
    expect((await tokens.list())[0]!.lastUsedAt).toBe(5_000);
    t = 65_000;
    await tokens.verify(token);
    expect((await tokens.list())[0]!.lastUsedAt).toBe(65_000);
  });

  it('creates the admin token on first start only and returns its plaintext once', async () => {
    const { store, tokens } = await setup();
    const first = await ensureAdminToken(store);
    expect(first).toMatch(/^sgt_/);
    expect(await tokens.verify(first!)).toMatchObject({ role: 'admin' });
    expect(await ensureAdminToken(store)).toBeUndefined();
    expect(await tokens.ensureAdminToken()).toBeUndefined();
    expect(await tokens.list()).toHaveLength(1);
  });
});
