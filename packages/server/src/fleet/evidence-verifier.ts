/**
 * Evidence appraisal, first half: is this token well formed, signed by the key it carries, and
 * does it speak for the device that key identifies? (RFC 9334 §8.1 Evidence; the policy half —
 * nonce, claim state, reference values — lives in FleetService.)
 *
 * This runs on every enrolment, so it stays plain: one JSON.parse per part, node:crypto's ECDSA
 * verify with the raw r||s encoding JOSE uses, and parsed KeyObjects cached per key.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  EAT_PROFILE, deviceIdFromPublicKey, deviceIdFromUeid, type EvidenceClaims, type Measurement,
} from '@shellguard/protocol';
import { AttestationError } from './fleet-error.ts';
import { isSemver } from './semver.ts';

/** A guardian's EAT is well under 2 KiB; anything this large is not one. */
export const MAX_EVIDENCE_BYTES = 16 * 1024;
export const MAX_MEASUREMENTS = 64;
const COMPONENT_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,127}$/;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
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

function malformed(message: string, details: Record<string, unknown> = {}): AttestationError {
  return new AttestationError('evidence_malformed', message, details);
}

function decodeJsonPart(part: string, what: string): Record<string, unknown> {
  if (!B64URL.test(part)) throw malformed(`the JWS ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw malformed(`the JWS ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`the JWS ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function isShortString(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}

/** Strict claim types (RFC 9711 §4): a claim of the wrong type is a malformed token, not a guess. */
function parseClaims(o: Record<string, unknown>): EvidenceClaims {
  // RFC 9711 §4.3.2: the profile tells the verifier how to read the rest; we know exactly one.
  if (o.eat_profile !== EAT_PROFILE) throw malformed('eat_profile is not the Shellguard guardian profile');
  // RFC 9711 §4.1: eat_nonce, a text string of 8-64 bytes in JWT form (we accept up to 128 characters).
  if (!isShortString(o.eat_nonce, 128)) throw malformed('eat_nonce must be a string');
  if (!isShortString(o.ueid, 64)) throw malformed('ueid must be a string');
  if (!isShortString(o.swname, 128)) throw malformed('swname must be a string');
  // RFC 9711 §4.2.7: swversion; our profile fixes the version scheme to semver.
  if (typeof o.swversion !== 'string' || !isSemver(o.swversion)) throw malformed('swversion must be a semantic version');
  // RFC 9711 §4.3.3: bootcount, an unsigned integer.
  if (typeof o.bootcount !== 'number' || !Number.isSafeInteger(o.bootcount) || o.bootcount < 0) {
    throw malformed('bootcount must be a non-negative integer');
  }
  if (typeof o.iat !== 'number' || !Number.isFinite(o.iat)) throw malformed('iat must be a number');
  // RFC 9711 §4.2.16: measurements; one entry per component, each a SHA-256.
  const raw = o.measurements;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_MEASUREMENTS) {
    throw malformed(`measurements must be a list of 1 to ${MAX_MEASUREMENTS} entries`);
  }
  const seen = new Set<string>();
  const measurements: Measurement[] = [];
  for (const m of raw as unknown[]) {
    if (typeof m !== 'object' || m === null) throw malformed('each measurement must be an object');
    const { component, digest } = m as Record<string, unknown>;
    if (typeof component !== 'string' || !COMPONENT_PATTERN.test(component)) throw malformed('measurement component must be a short lowercase name');
    if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) throw malformed('measurement digest must be lowercase hex SHA-256');
    if (seen.has(component)) throw malformed(`component ${component} is measured twice`);
    seen.add(component);
    measurements.push({ component, digest });
  }
  return {
    eat_profile: o.eat_profile, eat_nonce: o.eat_nonce, ueid: o.ueid, swname: o.swname, swversion: o.swversion,
    bootcount: o.bootcount, iat: o.iat, measurements,
  };
}

export class EvidenceVerifier {
  private readonly keys = new Map<string, CachedKey>();

  /**
   * Verifies the token's form, signature and key binding. Throws AttestationError with
   * evidence_malformed, signature_invalid or key_mismatch; `details.claimedDeviceId` carries the
   * ueid's device id when it could be read (unauthenticated: for records, never for decisions).
   */
  verify(jws: string): VerifiedEvidence {
    if (typeof jws !== 'string') throw malformed('evidence must be a string');
    if (jws.length > MAX_EVIDENCE_BYTES) throw malformed(`evidence exceeds ${MAX_EVIDENCE_BYTES} bytes`);
    const parts = jws.split('.');
    if (parts.length !== 3) throw malformed('evidence must be a compact JWS (three parts)');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decodeJsonPart(headerPart, 'header');
    const payload = decodeJsonPart(payloadPart, 'payload');
    const claimedDeviceId = typeof payload.ueid === 'string' ? deviceIdFromUeid(payload.ueid) : undefined;
    const details = claimedDeviceId ? { claimedDeviceId } : {};

    // RFC 7515 §4.1.1 / RFC 7518 §3.4: the algorithm is fixed by our profile, never negotiated
    // from the token (no "none", no HMAC with the public key as secret).
    if (header.alg !== 'ES256') throw malformed('alg must be ES256', details);
    // RFC 7515 §4.1.11: extensions we do not understand must be rejected.
    if (header.crit !== undefined) throw malformed('crit header parameters are not supported', details);
    const claims = parseClaims(payload);
    if (!claimedDeviceId) throw malformed('ueid is not a Shellguard device UEID (RFC 9711 §4.2.1.1, type RAND)');

    const cached = this.importKey(header.jwk, details);
    if (!B64URL.test(signaturePart)) throw new AttestationError('signature_invalid', 'the signature is not base64url', details);
    const signature = Buffer.from(signaturePart, 'base64url');
    // RFC 7518 §3.4: ES256 signatures are the 64-byte concatenation R || S.
    const valid = signature.length === 64 && verify(
      'sha256', Buffer.from(`${headerPart}.${payloadPart}`), { key: cached.key, dsaEncoding: 'ieee-p1363' }, signature,
    );
    if (!valid) throw new AttestationError('signature_invalid', 'the evidence signature does not verify with its key', details);

    // The device id is derived from the verified key (ARCHITECTURE.md §2); a ueid naming anyone
    // else is evidence about a device the signer does not hold the key of.
    if (cached.deviceId !== claimedDeviceId) {
      throw new AttestationError('key_mismatch', 'the ueid names a device other than the key that signed the evidence', {
        claimedDeviceId, signerDeviceId: cached.deviceId,
      });
    }
    this.remember(header.jwk as Record<string, string>, cached);
    return { deviceId: cached.deviceId, publicKey: cached.key, claims };
  }

  private cacheKey(jwk: Record<string, string>): string {
    return `${jwk.x}.${jwk.y}`;
  }

  private importKey(jwk: unknown, details: Record<string, unknown>): CachedKey {
    if (typeof jwk !== 'object' || jwk === null) throw malformed('the header must carry the signing key as jwk', details);
    const j = jwk as Record<string, unknown>;
    // RFC 7517 §4 / RFC 7518 §6.2: an EC P-256 public key and nothing else (a "d" would be a leaked private key).
    if (j.kty !== 'EC' || j.crv !== 'P-256' || typeof j.x !== 'string' || typeof j.y !== 'string' || j.d !== undefined
      || !B64URL.test(j.x) || !B64URL.test(j.y) || j.x.length !== 43 || j.y.length !== 43) {
      throw malformed('jwk must be an EC P-256 public key', details);
    }
    const hit = this.keys.get(this.cacheKey(j as Record<string, string>));
    if (hit) return hit;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y }, format: 'jwk' });
    } catch {
      throw malformed('jwk is not a point on P-256', details);
    }
    return { key, deviceId: deviceIdFromPublicKey(key) };
  }

  /** Only keys that produced a valid signature are cached, so the cache holds keys of real signers. */
  private remember(jwk: Record<string, string>, entry: CachedKey): void {
    const k = this.cacheKey(jwk);
    if (this.keys.has(k)) return;
    if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(k, entry);
  }
}
