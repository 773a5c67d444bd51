/**
 * The nonces of challenges (RFC 9334 §10.2): fresh and unpredictable, one device's each, used
 * once, within their lifetime. Kept in the {@link NonceStore} so that every replica accepts a
 * nonce any of them issued, and only once.
 *
 * Only callers that proved they hold a device's key reach `issue` (ChallengeVerifier), so the
 * per-device cap lets a device drop only its own nonces. Ids without a claim get `unrecorded`
 * nonces of the same form and lifetime that are never stored: anyone can mint keys, and those must
 * not grow the store; appraisal refuses such devices before it looks at the nonce.
 */
import { createHmac, randomBytes as nodeRandomBytes } from 'node:crypto';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { NonceCheck, NonceStore } from './nonce-store.ts';

export interface ChallengeNoncesOptions {
  /**
   * Where the nonces are written: a unit of work, so that a server may let the writes of
   * concurrent challenges and appraisals share one commit (coalescing-unit-of-work.ts).
   */
  writes: UnitOfWork<{ nonces: NonceStore }>;
  now: () => number;
  ttlMs: number;
  randomBytes?: (n: number) => Buffer;
  /** Unused nonces one device may hold at once; issuing more drops its oldest (default 4). */
  maxOutstandingPerDevice?: number;
  /** How long a used or expired nonce is still recognised as such (ms after expiry; default 10 × ttl). */
  retainMs?: number;
}

export interface IssuedChallenge {
  nonce: string;
  expiresAt: number;
}

export class ChallengeNonces {
  private readonly writes: UnitOfWork<{ nonces: NonceStore }>;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly random: (n: number) => Buffer;
  private readonly maxOutstanding: number;
  private readonly retainMs: number;
  /**
   * Per-process key of the unrecorded nonces: they look random and reveal nothing about the id.
   * Per process is enough: an unrecorded nonce is accepted by no replica.
   */
  private readonly unrecordedKey: Buffer;
  private nextSweep = 0;

  constructor(options: ChallengeNoncesOptions) {
    this.writes = options.writes;
    this.now = options.now;
    this.ttlMs = options.ttlMs;
    this.random = options.randomBytes ?? nodeRandomBytes;
    this.maxOutstanding = Math.max(1, options.maxOutstandingPerDevice ?? 4);
    this.retainMs = options.retainMs ?? 10 * options.ttlMs;
    this.unrecordedKey = this.random(32);
  }

  async issue(deviceId: string): Promise<IssuedChallenge> {
    const now = this.now();
    await this.sweep(now);
    // 32 random bytes (256 bits): unguessable, and within RFC 9711 §4.1's 8-64 byte range.
    const nonce = this.random(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    await this.writes.run((tx) => tx.nonces.issue({ nonce, deviceId, expiresAt }, this.maxOutstanding));
    return { nonce, expiresAt };
  }

  /**
   * A nonce indistinguishable from an issued one (32 bytes, same lifetime) that is not stored and
   * will never be accepted: the answer to a proven challenge from a device with no claim, so the
   * challenge does not tell anyone the claim state. `requestId` makes each one different.
   */
  unrecorded(deviceId: string, requestId: string): IssuedChallenge {
    const nonce = createHmac('sha256', this.unrecordedKey).update(`${deviceId}\0${requestId}`).digest('base64url');
    return { nonce, expiresAt: this.now() + this.ttlMs };
  }

  /** Checks and, when valid, consumes the nonce: no replica accepts it twice. */
  consume(nonce: string, deviceId: string): Promise<NonceCheck> {
    const now = this.now();
    return this.writes.run((tx) => tx.nonces.consume(nonce, deviceId, now));
  }

  /** At most once per lifetime (per replica; any replica's sweep serves all): forget nonces long past their expiry. */
  private async sweep(now: number): Promise<void> {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.ttlMs;
    await this.writes.run((tx) => tx.nonces.forgetExpiredBefore(now - this.retainMs));
  }
}
