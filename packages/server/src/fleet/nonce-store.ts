/**
 * Challenge nonces: RFC 9334 §10.2 (implicit timekeeping using nonces). Evidence is fresh only if
 * it carries a nonce that was issued to that device, is used for the first time, and is still
 * within its lifetime.
 *
 * In the database, not in memory: with several server replicas a challenge issued by one may be
 * answered at another, and `consume` must succeed once across all of them. Used and expired
 * nonces are kept a while longer (until `forgetExpiredBefore`) so that a replay is reported as a
 * replay rather than as an unknown nonce.
 */
export type NonceCheck = 'ok' | 'nonce_unknown' | 'nonce_replayed' | 'nonce_expired';

export interface IssuedNonce {
  nonce: string;
  deviceId: string;
  expiresAt: number;
}

export interface NonceStore {
  /**
   * Stores a nonce, then drops the device's oldest unused nonces beyond its newest
   * `maxOutstanding` (only the device's own: issuing is gated by its key, challenge-verifier.ts).
   */
  issue(nonce: IssuedNonce, maxOutstanding: number): Promise<void>;
  /**
   * Atomically marks the nonce used if it was issued to `deviceId`, is unused and `now` is not past
   * its expiry ('ok'); else says why not. Concurrent calls for one nonce: exactly one gets 'ok'.
   */
  consume(nonce: string, deviceId: string, now: number): Promise<NonceCheck>;
  /** Deletes nonces that expired before `cutoff`; how many. */
  forgetExpiredBefore(cutoff: number): Promise<number>;
}
