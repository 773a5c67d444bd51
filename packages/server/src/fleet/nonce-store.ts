/**
 * Challenge nonces: RFC 9334 §10.2 (implicit timekeeping using nonces). The verifier issues a
 * fresh, unpredictable nonce to one device; evidence is fresh only if it carries a nonce that was
 * issued to that device, is used for the first time, and is still within its lifetime.
 *
 * Kept in memory: a nonce lives for a minute, and a server restart only costs a device one
 * extra challenge. Used and expired nonces are remembered a while longer so that a replay is
 * reported as a replay rather than as an unknown nonce.
 *
 * Only callers that proved they hold a device's key reach `issue` (ChallengeVerifier), so the
 * per-device cap lets a device drop only its own nonces. Ids without a claim get `unrecorded`
 * nonces of the same form and lifetime that are never stored: anyone can mint keys, and those must
 * not grow this store; appraisal refuses such devices before it looks at the nonce.
 */
import { createHmac, randomBytes as nodeRandomBytes } from 'node:crypto';

export type NonceCheck = 'ok' | 'nonce_unknown' | 'nonce_replayed' | 'nonce_expired';

interface IssuedNonce {
  deviceId: string;
  expiresAt: number;
  used: boolean;
}

export interface NonceStoreOptions {
  now: () => number;
  ttlMs: number;
  randomBytes?: (n: number) => Buffer;
  /** Unused nonces one device may hold at once; issuing more drops its oldest. */
  maxOutstandingPerDevice?: number;
  /** How long a used or expired nonce is still recognised (ms after expiry). */
  retainMs?: number;
}

export class NonceStore {
  private readonly nonces = new Map<string, IssuedNonce>();
  private readonly outstanding = new Map<string, string[]>();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly random: (n: number) => Buffer;
  private readonly maxOutstanding: number;
  private readonly retainMs: number;
  /** Per-process key of the unrecorded nonces: they look random and reveal nothing about the id. */
  private readonly unrecordedKey: Buffer;
  private nextSweep = 0;

  constructor(options: NonceStoreOptions) {
    this.now = options.now;
    this.ttlMs = options.ttlMs;
    this.random = options.randomBytes ?? nodeRandomBytes;
    this.maxOutstanding = options.maxOutstandingPerDevice ?? 4;
    this.retainMs = options.retainMs ?? 10 * options.ttlMs;
    this.unrecordedKey = this.random(32);
  }

  issue(deviceId: string): { nonce: string; expiresAt: number } {
    const now = this.now();
    this.sweep(now);
    // 32 random bytes (256 bits): unguessable, and within RFC 9711 §4.1's 8-64 byte range.
    const nonce = this.random(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.nonces.set(nonce, { deviceId, expiresAt, used: false });
    const list = this.outstanding.get(deviceId) ?? [];
    list.push(nonce);
    while (list.length > this.maxOutstanding) this.nonces.delete(list.shift()!);
    this.outstanding.set(deviceId, list);
    return { nonce, expiresAt };
  }

  /**
   * A nonce indistinguishable from an issued one (32 bytes, same lifetime) that is not stored and
   * will never be accepted: the answer to a proven challenge from a device with no claim, so the
   * challenge does not tell anyone the claim state. `requestId` makes each one different.
   */
  unrecorded(deviceId: string, requestId: string): { nonce: string; expiresAt: number } {
    const nonce = createHmac('sha256', this.unrecordedKey).update(`${deviceId}\0${requestId}`).digest('base64url');
    return { nonce, expiresAt: this.now() + this.ttlMs };
  }

  /** Checks and, when valid, consumes the nonce: it can never be accepted twice. */
  consume(nonce: string, deviceId: string): NonceCheck {
    const now = this.now();
    const entry = this.nonces.get(nonce);
    // A nonce issued to another device is as good as unknown to this one (RFC 9334 §10.2:
    // the nonce binds the challenge to the Attester it was sent to).
    if (!entry || entry.deviceId !== deviceId) return 'nonce_unknown';
    if (entry.used) return 'nonce_replayed';
    if (now > entry.expiresAt) return 'nonce_expired';
    entry.used = true;
    const list = this.outstanding.get(deviceId);
    if (list) {
      const i = list.indexOf(nonce);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.outstanding.delete(deviceId);
    }
    return 'ok';
  }

  get size(): number {
    return this.nonces.size;
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.ttlMs;
    for (const [nonce, entry] of this.nonces) {
      if (now > entry.expiresAt + this.retainMs) {
        this.nonces.delete(nonce);
        const list = this.outstanding.get(entry.deviceId);
        if (list) {
          const i = list.indexOf(nonce);
          if (i >= 0) list.splice(i, 1);
          if (list.length === 0) this.outstanding.delete(entry.deviceId);
        }
      }
    }
  }
}
