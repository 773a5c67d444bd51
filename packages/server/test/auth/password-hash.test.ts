import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_COST, ScryptPasswordHasher } from '../../src/auth/password-hash.ts';

describe('ScryptPasswordHasher', () => {
  const hasher = new ScryptPasswordHasher();

  it('makes self-describing scrypt hashes with N=2^15, r=8, p=1, a 16-byte salt and a 64-byte key', async () => {
    const encoded = await hasher.hash('correct horse battery staple');
    const [scheme, N, r, p, salt, key] = encoded.split('$');
    expect([scheme, Number(N), Number(r), Number(p)]).toEqual(['scrypt', 2 ** 15, 8, 1]);
    expect(DEFAULT_SCRYPT_COST).toEqual({ N: 32768, r: 8, p: 1 });
    expect(Buffer.from(salt!, 'base64url')).toHaveLength(16);
    expect(Buffer.from(key!, 'base64url')).toHaveLength(64);
    expect(encoded).not.toContain('correct horse');
  });

  it('verifies the right password only, and salts every hash differently', async () => {
    const a = await hasher.hash('correct horse battery staple');
    const b = await hasher.hash('correct horse battery staple');
    expect(a).not.toBe(b);
    expect(await hasher.verify('correct horse battery staple', a)).toBe(true);
    expect(await hasher.verify('correct horse battery staple', b)).toBe(true);
    expect(await hasher.verify('correct horse battery stapler', a)).toBe(false);
    expect(await hasher.verify('', a)).toBe(false);
  });

  it('verifies a hash made with other parameters by the parameters it names', async () => {
    const cheap = await new ScryptPasswordHasher({ cost: { N: 1024, r: 8, p: 1 } }).hash('another long password');
    expect(cheap.startsWith('scrypt$1024$8$1$')).toBe(true);
    expect(await hasher.verify('another long password', cheap)).toBe(true);
  });

  it('says false, without throwing, for hashes it cannot read or that ask for too much memory', async () => {
    const good = await hasher.hash('correct horse battery staple');
    const [, , , , salt, key] = good.split('$');
    for (const bad of [
      '', 'plain', `bcrypt$32768$8$1$${salt}$${key}`, `scrypt$3000$8$1$${salt}$${key}`, `scrypt$${2 ** 24}$8$1$${salt}$${key}`,
      `scrypt$32768$8$1$${salt}$${key!.slice(0, 20)}`, `scrypt$32768$8$1$${salt}$${key}$extra`, `scrypt$32768$8$1$${salt}$${key}=`,
    ]) {
      expect(await hasher.verify('correct horse battery staple', bad), bad).toBe(false);
    }
  });

  it('costs a full verification for a dummy check (unknown users take as long as known ones)', async () => {
    const encoded = await hasher.hash('correct horse battery staple');
    const time = async (fn: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await fn();
        samples.push(performance.now() - t0);
      }
      return samples.sort((x, y) => x - y)[1]!;
    };
    const real = await time(() => hasher.verify('wrong password here', encoded));
    const dummy = await time(() => hasher.verifyDummy('wrong password here'));
    expect(dummy / real).toBeGreaterThan(0.5);
    expect(dummy / real).toBeLessThan(2);
  });
});
