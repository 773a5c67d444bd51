/**
 * Password hashing with scrypt (RFC 7914) from node:crypto: memory-hard, so a stolen database
 * costs an attacker 32 MiB and tens of milliseconds per guess. Hashes describe themselves,
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url), so the cost can be raised later and older
 * hashes still verify with the parameters they were made with.
 *
 * Parameters: N = 2^15, r = 8, p = 1, a 16-byte salt and a 64-byte key (OWASP Password Storage
 * Cheat Sheet's scrypt row, RFC 7914 §2). Verification compares in constant time, and
 * {@link PasswordHasher.verifyDummy} costs the same as a real verification, so a sign-in for an
 * unknown user takes as long as one with a wrong password.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptCost {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 2 ** 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 64;
/** Bounds on what a stored hash may ask for, so a corrupted or planted row cannot exhaust memory. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/** The hashing port the users service depends on (a KMS-backed pepper or argon2 could stand behind it). */
export interface PasswordHasher {
  /** A self-describing hash of `password`, with a fresh salt. */
  hash(password: string): Promise<string>;
  /** True when `password` matches `encoded`; false for a wrong password or a hash it cannot read. */
  verify(password: string, encoded: string): Promise<boolean>;
  /** Costs what {@link verify} costs and returns false: for unknown users, so timing tells nothing. */
  verifyDummy(password: string): Promise<void>;
}

function scrypt(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  // 128·N·r bytes for the V array plus the B blocks: give the native call room beyond its
  // 32 MiB default, which N = 2^15, r = 8 exceeds by a few blocks.
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

interface ParsedHash { cost: ScryptCost; salt: Buffer; key: Buffer }

const B64URL = /^[A-Za-z0-9_-]+$/;

function parseHash(encoded: string): ParsedHash | undefined {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const [salt, key] = [parts[4]!, parts[5]!];
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) return undefined;
  if (!Number.isInteger(r) || r < 1 || r > MAX_R || !Number.isInteger(p) || p < 1 || p > MAX_P) return undefined;
  if (!B64URL.test(salt) || !B64URL.test(key)) return undefined;
  const keyBytes = Buffer.from(key, 'base64url');
  if (keyBytes.length !== KEY_BYTES) return undefined;
  return { cost: { N, r, p }, salt: Buffer.from(salt, 'base64url'), key: keyBytes };
}

export interface ScryptPasswordHasherOptions {
  /** Defaults to {@link DEFAULT_SCRYPT_COST}; lower only in tests. */
  cost?: ScryptCost;
}

export class ScryptPasswordHasher implements PasswordHasher {
  private readonly cost: ScryptCost;
  /**
   * The target of dummy verifications: the current cost with a random salt and a random key,
   * which no password derives to. Verifying against it is one scrypt, like a real verification.
   */
  private readonly dummy: string;

  constructor(options: ScryptPasswordHasherOptions = {}) {
    this.cost = options.cost ?? DEFAULT_SCRYPT_COST;
    this.dummy = this.encode(randomBytes(SALT_BYTES), randomBytes(KEY_BYTES));
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    return this.encode(salt, await scrypt(password, salt, this.cost));
  }

  private encode(salt: Buffer, key: Buffer): string {
    const { N, r, p } = this.cost;
    return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  async verify(password: string, encoded: string): Promise<boolean> {
    const parsed = parseHash(encoded);
    if (!parsed) return false;
    const key = await scrypt(password, parsed.salt, parsed.cost);
    return timingSafeEqual(key, parsed.key);
  }

  async verifyDummy(password: string): Promise<void> {
    await this.verify(password, this.dummy);
  }
}
