import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { ApiTokens, ensureAdminToken } from '../../src/auth/api-tokens.ts';

function setup(now = () => 1_000) {
  const db = openDatabase(':memory:');
  return { db, tokens: new ApiTokens(db, { now }) };
}

describe('ApiTokens', () => {
  it('creates sgt_<id>_<secret> tokens with a 32-byte secret and stores only its hash', () => {
    const { db, tokens } = setup();
    const created = tokens.create('ci', 'engineer');
    expect(created.token).toMatch(/^sgt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(created.token.split('_').slice(2).join('_'), 'base64url')).toHaveLength(32);
    const dump = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
    const secret = created.token.slice(4 + 16 + 1);
    expect(dump).not.toContain(secret);
    expect(tokens.verify(created.token)).toEqual({ tokenId: created.tokenId, name: 'ci', role: 'engineer' });
  });

  it('refuses a wrong secret, an unknown id, garbage and a revoked token', () => {
    const { tokens } = setup();
    const { token, tokenId } = tokens.create('ci', 'viewer');
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(tokens.verify(flipped)).toBeUndefined();
    expect(tokens.verify(`sgt_0000000000000000_${token.slice(-43)}`)).toBeUndefined();
    expect(tokens.verify('')).toBeUndefined();
    expect(tokens.verify('Bearer nonsense')).toBeUndefined();
    expect(tokens.revoke(tokenId)).toBe(true);
    expect(tokens.verify(token)).toBeUndefined();
  });

  it('refuses an unknown role', () => {
    const { tokens } = setup();
    expect(() => tokens.create('x', 'root' as never)).toThrow(expect.objectContaining({ code: 'auth_bad_role' }));
  });

  it('records when a token was last used', () => {
    let t = 1_000;
    const { tokens } = setup(() => t);
    const { token } = tokens.create('ci', 'viewer');
    expect(tokens.list()[0]!.lastUsedAt).toBeNull();
    t = 5_000;
    tokens.verify(token);
    expect(tokens.list()[0]!.lastUsedAt).toBe(5_000);
  });

  it('creates the admin token on first start only and returns its plaintext once', () => {
    const { db, tokens } = setup();
    const first = ensureAdminToken(db);
    expect(first).toMatch(/^sgt_/);
    expect(tokens.verify(first!)).toMatchObject({ role: 'admin' });
    expect(ensureAdminToken(db)).toBeUndefined();
    expect(tokens.ensureAdminToken()).toBeUndefined();
    expect(tokens.list()).toHaveLength(1);
  });
});
