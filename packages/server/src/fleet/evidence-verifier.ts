/**
 * Evidence appraisal, first half: is this token signed by the key it carries, and does it speak
 * for the device that key identifies? (RFC 9334 §8.1 Evidence; its form and claims are checked
 * by protocol's decodeEvidence, the format's one home; the policy half — nonce, claim state,
 * reference values — lives in FleetService.)
 *
 * This runs on every enrolment, so it stays plain: one JSON.parse per part, node:crypto's ECDSA
 * verify with the raw r||s encoding JOSE uses, and parsed KeyObjects cached per key.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  EvidenceFormatError, decodeEvidence, deviceIdFromPublicKey, type DecodedEvidence, type EvidenceClaims, type EvidenceJwk,
} from '@shellguard/protocol';
import { AttestationError } from './fleet-error.ts';

const KEY_CACHE_LIMIT = 10_000;

export interface VerifiedEvidence {
  /** Derived from the signing key, never taken from the claims. */
  deviceId: string;
  publicKey: KeyObject;
  claims: EvidenceClaims;
}

interface CachedKey {
  key: KeyObject;
  deviceId: string;
}

/** The format's refusal, as the appraisal's (same code, same facts). */
function decode(jws: string): DecodedEvidence {
  try {
    return decodeEvidence(jws);
  } catch (err) {
    if (err instanceof EvidenceFormatError) throw new AttestationError(err.code, err.message, err.details);
    throw err;
  }
}

export class EvidenceVerifier {
  private readonly keys = new Map<string, CachedKey>();

  /**
   * Verifies the token's form, signature and key binding. Throws AttestationError with
   * evidence_malformed, signature_invalid or key_mismatch; `details.claimedDeviceId` carries the
   * ueid's device id when it could be read (unauthenticated: for records, never for decisions).
   */
  verify(jws: string): VerifiedEvidence {
    const { jwk, claims, claimedDeviceId, signingInput, signature } = decode(jws);
    const details = { claimedDeviceId };
    const cached = this.importKey(jwk, details);
    // RFC 7518 §3.4: ES256 signatures are the 64-byte concatenation R || S.
    const valid = signature.length === 64 && verify(
      'sha256', Buffer.from(signingInput), { key: cached.key, dsaEncoding: 'ieee-p1363' }, signature,
    );
    if (!valid) throw new AttestationError('signature_invalid', 'the evidence signature does not verify with its key', details);

    // The device id is derived from the verified key (ARCHITECTURE.md §2); a ueid naming anyone
    // else is evidence about a device the signer does not hold the key of.
    if (cached.deviceId !== claimedDeviceId) {
      throw new AttestationError('key_mismatch', 'the ueid names a device other than the key that signed the evidence', {
        claimedDeviceId, signerDeviceId: cached.deviceId,
      });
    }
    this.remember(jwk, cached);
    return { deviceId: cached.deviceId, publicKey: cached.key, claims };
  }

  private cacheKey(jwk: EvidenceJwk): string {
    return `${jwk.x}.${jwk.y}`;
  }

  private importKey(jwk: EvidenceJwk, details: Record<string, unknown>): CachedKey {
    const hit = this.keys.get(this.cacheKey(jwk));
    if (hit) return hit;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    } catch {
      throw new AttestationError('evidence_malformed', 'jwk is not a point on P-256', details);
    }
    return { key, deviceId: deviceIdFromPublicKey(key) };
  }

  /** Only keys that produced a valid signature are cached, so the cache holds keys of real signers. */
  private remember(jwk: EvidenceJwk, entry: CachedKey): void {
    const k = this.cacheKey(jwk);
    if (this.keys.has(k)) return;
    if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(k, entry);
  }
}
