/**
 * Proof of possession on the attestation challenge. Before this, anyone who knew a device id could
 * ask for that device's nonces (evicting the device's own, four at a time) and read its claim state
 * from the answer. A challenge request is now signed by the identity key it speaks for, so only the
 * key holder can make the server keep nonces for a device.
 *
 * Wire format (POST ATTESTATION_CHALLENGE_PATH, JSON):
 *
 *   {
 *     "deviceId":  "<64 hex>",                                    hex SHA-256 of the key's SPKI DER
 *     "publicKey": { "kty": "EC", "crv": "P-256", "x": "…", "y": "…" },  the identity key, JWK (RFC 7517)
 *     "issuedAt":  1767225600000,                                 the guardian's clock, epoch ms
 *     "requestId": "<22..64 base64url>",                          16+ random bytes, never reused
 *     "signature": "<86 base64url>"                               ES256, JOSE r||s (RFC 7518 §3.4)
 *   }
 *
 * The signature covers the statement
 *
 *   "shellguard-challenge-v1" 0x00 deviceId 0x00 decimal(issuedAt) 0x00 requestId
 *
 * The context string comes first and fields are separated by a byte none of them may contain
 * (the RFC 8446 §4.4.3 pattern), so a statement can never be read as anything else the identity
 * key signs: an EAT's JWS signing input starts with base64url JSON ("eyJ"), a CSR with DER, a
 * TLS CertificateVerify with 64 spaces.
 *
 * The checks follow RFC 9449 §4.3 (DPoP proofs), the closest standard shape: the key is the
 * device's, the signature verifies, `issuedAt` is within a window of the verifier's clock, and the
 * request id was not seen before within that window (RFC 9449 §11.1, `jti`; that check needs
 * memory and lives with the verifier). The window only bounds that memory; freshness of the evidence still comes from
 * the nonce (RFC 9334 §10.2), so a guardian's clock matters only to within CHALLENGE_MAX_SKEW_MS.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { derToJoseSignature } from './attestation.ts';
import { DEVICE_ID_PATTERN, deviceIdFromPublicKey } from './identity.ts';

/** Names the statement and its version; a v2 statement is a new context string. */
export const CHALLENGE_STATEMENT_CONTEXT = 'shellguard-challenge-v1';

/** How far a challenge request's issuedAt may be from the server's clock, either way. */
export const CHALLENGE_MAX_SKEW_MS = 5 * 60_000;

/** Random bytes in a request id the guardian makes: 128 bits (RFC 4086 §8: unguessable). */
export const CHALLENGE_REQUEST_ID_BYTES = 16;

/** 16 to 48 bytes, base64url without padding. */
export const CHALLENGE_REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

const B64URL_COORDINATE = /^[A-Za-z0-9_-]{43}$/;
const B64URL_ES256_SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

/** An EC P-256 public key as a JWK (RFC 7517 §4, RFC 7518 §6.2.1): public members only. */
export interface DevicePublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

export interface ChallengeRequest {
  deviceId: string;
  publicKey: DevicePublicJwk;
  /** epoch ms, the guardian's clock */
  issuedAt: number;
  requestId: string;
  /** base64url of the 64-byte ES256 signature (R || S) over challengeStatement(...) */
  signature: string;
}

/** A parsed device key and the id it hashes to. */
export interface DeviceKey {
  key: KeyObject;
  deviceId: string;
}

/** What a verified challenge request proves: the sender holds the key of `deviceId`. */
export interface VerifiedChallengeRequest {
  deviceId: string;
  publicKey: KeyObject;
  issuedAt: number;
  requestId: string;
}

/** The refusals this stateless check can give (the replay check adds challenge_replayed). */
export type ChallengeProofRefusal = 'challenge_proof_invalid' | 'challenge_stale';

export type ChallengeProofCheck =
  | { ok: true; request: VerifiedChallengeRequest }
  | { ok: false; refusal: ChallengeProofRefusal; message: string };

/** The bytes the identity key signs for a challenge request. */
export function challengeStatement(deviceId: string, issuedAt: number, requestId: string): Buffer {
  return Buffer.from(`${CHALLENGE_STATEMENT_CONTEXT}\0${deviceId}\0${issuedAt}\0${requestId}`, 'utf8');
}

/** The JWK of a P-256 public key, with only the members RFC 7518 §6.2.1 defines for it. */
export function devicePublicJwk(publicKey: KeyObject): DevicePublicJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new TypeError('a device key is an EC P-256 key');
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/**
 * Builds a signed challenge request with a signer that never exposes the private key (a
 * KeyStore's `sign`, returning DER).
 */
export function encodeChallengeRequest(
  input: { publicKey: KeyObject; issuedAt: number; requestId: string },
  signDer: (data: Buffer) => Buffer,
): ChallengeRequest {
  const deviceId = deviceIdFromPublicKey(input.publicKey);
  const statement = challengeStatement(deviceId, input.issuedAt, input.requestId);
  return {
    deviceId,
    publicKey: devicePublicJwk(input.publicKey),
    issuedAt: input.issuedAt,
    requestId: input.requestId,
    signature: derToJoseSignature(signDer(statement)).toString('base64url'),
  };
}

/** Parses a device JWK; undefined when it is not a P-256 public key (or not a point on the curve). */
export function importDevicePublicJwk(jwk: DevicePublicJwk): DeviceKey | undefined {
  try {
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' });
    return { key, deviceId: deviceIdFromPublicKey(key) };
  } catch {
    return undefined;
  }
}

export interface VerifyChallengeOptions {
  /** The verifier's clock, epoch ms. */
  now: number;
  /** Default CHALLENGE_MAX_SKEW_MS. */
  maxSkewMs?: number;
  /** Default importDevicePublicJwk; a verifier may put a cache in front of it. */
  importKey?: (jwk: DevicePublicJwk) => DeviceKey | undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(message: string): ChallengeProofCheck {
  return { ok: false, refusal: 'challenge_proof_invalid', message };
}

/**
 * Checks a challenge request without state: form, time window, key binding and signature.
 * Cheap checks come first, so a forgery costs one ECDSA verification at most. Never throws.
 */
export function verifyChallengeRequest(request: unknown, options: VerifyChallengeOptions): ChallengeProofCheck {
  if (!isObject(request)) return invalid('a challenge request is a JSON object');
  const { deviceId, publicKey, issuedAt, requestId, signature } = request;
  if (typeof deviceId !== 'string' || !DEVICE_ID_PATTERN.test(deviceId)) {
    return invalid('deviceId must be 64 lowercase hex characters');
  }
  if (!isObject(publicKey) || publicKey.kty !== 'EC' || publicKey.crv !== 'P-256'
    || typeof publicKey.x !== 'string' || !B64URL_COORDINATE.test(publicKey.x)
    || typeof publicKey.y !== 'string' || !B64URL_COORDINATE.test(publicKey.y)
    // RFC 7517 §4 / RFC 7518 §6.2.2: a "d" would be the private key itself.
    || publicKey.d !== undefined) {
    return invalid('publicKey must be an EC P-256 public JWK (kty, crv, x, y)');
  }
  if (typeof issuedAt !== 'number' || !Number.isSafeInteger(issuedAt) || issuedAt < 0) {
    return invalid('issuedAt must be an integer, epoch ms');
  }
  if (typeof requestId !== 'string' || !CHALLENGE_REQUEST_ID_PATTERN.test(requestId)) {
    return invalid('requestId must be 22 to 64 base64url characters (16 or more random bytes)');
  }
  // RFC 7518 §3.4: an ES256 signature is the 64-byte concatenation R || S.
  if (typeof signature !== 'string' || !B64URL_ES256_SIGNATURE.test(signature)) {
    return invalid('signature must be a base64url ES256 signature (64 bytes, R || S)');
  }

  // RFC 9449 §4.3: the proof's creation time must be within an acceptable window of the
  // verifier's clock; here in both directions, as guardians' clocks drift either way.
  const maxSkewMs = options.maxSkewMs ?? CHALLENGE_MAX_SKEW_MS;
  const skew = issuedAt - options.now;
  if (Math.abs(skew) > maxSkewMs) {
    return {
      ok: false, refusal: 'challenge_stale',
      message: `issuedAt is ${Math.round(skew / 1000)} s from the server clock (at most ${maxSkewMs / 1000} s allowed); check the guardian's clock`,
    };
  }

  const jwk: DevicePublicJwk = { kty: 'EC', crv: 'P-256', x: publicKey.x, y: publicKey.y };
  const device = (options.importKey ?? importDevicePublicJwk)(jwk);
  if (!device) return invalid('publicKey is not a point on P-256');
  // ARCHITECTURE.md §2: the device id is the hash of the key, so a key speaks for one device only.
  if (device.deviceId !== deviceId) return invalid('publicKey is not the key of deviceId');

  const sig = Buffer.from(signature, 'base64url');
  const valid = sig.length === 64
    && verify('sha256', challengeStatement(deviceId, issuedAt, requestId), { key: device.key, dsaEncoding: 'ieee-p1363' }, sig);
  if (!valid) return invalid('the signature does not verify with publicKey');
  return { ok: true, request: { deviceId, publicKey: device.key, issuedAt, requestId } };
}
