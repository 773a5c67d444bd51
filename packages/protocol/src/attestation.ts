/**
 * Attestation evidence and the enrolment exchange (ARCHITECTURE.md §2; RFC 9334 background-check
 * model: the guardian is the Attester, the server both Relying Party and Verifier).
 *
 *   guardian                                  server
 *   POST /api/v1/attestation/challenge <ChallengeRequest> -> { nonce, expiresAt }
 *        (signed by the identity key, see challenge-proof.ts; the same answer whatever the claim state)
 *   POST /api/v1/attestation/evidence  {evidence: JWS}    -> { certificatePem, caPems, notAfter }
 *                                                         or 403 { error: { code: <AttestationRefusal>, message } }
 *
 * Evidence is an RFC 9711 Entity Attestation Token in JWT form, signed ES256 by the device's
 * identity key, with the public key in the protected header (`jwk`): the verifier derives the
 * device id from that key, so evidence can never speak for another device.
 *
 * The format lives here whole: `encodeEvidence` (the guardian) and `decodeEvidence` (the
 * server's verifier, before it checks the signature, the key binding and its policy).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { ProtocolError, ShellguardError } from './errors.ts';
import { isSemver } from './semver.ts';

/** `eat_profile` (RFC 9711 §4.3.2): names this document's claim set. */
export const EAT_PROFILE = 'tag:shellguard.dev,2026:guardian-eat-v1';

export const ATTESTATION_CHALLENGE_PATH = '/api/v1/attestation/challenge';
export const ATTESTATION_EVIDENCE_PATH = '/api/v1/attestation/evidence';

/** One measured component: what the guardian runs, hashed. */
export interface Measurement {
  /** runtime, guardian-bundle, config, profiles (or profile:<id>) */
  component: string;
  /** lowercase hex SHA-256 */
  digest: string;
}

/**
 * The claims of a guardian's EAT. RFC 9711 names: eat_nonce (§4.1), ueid (§4.2.1), swname
 * (§4.2.6), swversion (§4.2.7), bootcount (§4.3.3), eat_profile (§4.3.2), iat (RFC 7519).
 * `measurements` (§4.2.16) is carried as a JSON list of {component, digest} rather than CoAP
 * content-format pairs: same meaning, readable in JWT form.
 */
export interface EvidenceClaims {
  eat_profile: string;
  eat_nonce: string;
  /** base64url of 0x01 || SHA-256(SPKI): a 33-byte UEID of type RAND (RFC 9711 §4.2.1.1). */
  ueid: string;
  swname: string;
  swversion: string;
  bootcount: number;
  iat: number;
  measurements: Measurement[];
}

export interface ChallengeResponse { nonce: string; expiresAt: number }
export interface EvidenceRequest { evidence: string }
export interface EnrolmentResponse {
  /** The operational certificate (PEM), subject CN = device id. */
  certificatePem: string;
  /** Issuing CA certificates the device should trust for the server (PEM). */
  caPems: string[];
  /** epoch ms */
  notAfter: number;
}

/** Stable reason codes for a refused challenge or appraisal (one per failure, as the issue asks). */
export const AttestationRefusals = [
  'challenge_proof_invalid', // challenge request malformed, key not the device's, or its signature does not verify
  'challenge_stale',         // challenge request's issuedAt too far from the server clock (check the guardian's clock)
  'challenge_replayed',      // challenge request id already seen
  'evidence_malformed',      // not a compact JWS / claims missing or of the wrong type
  'signature_invalid',       // the signature does not verify with the key in the header
  'key_mismatch',            // ueid names a device other than the key that signed
  'nonce_unknown',           // never issued (or issued to another device)
  'nonce_replayed',          // already used
  'nonce_expired',           // issued, but its lifetime is over
  'device_unclaimed',        // no claim for this device id
  'device_revoked',          // revoked by an operator
  'device_quarantined',      // quarantined after an earlier failed appraisal
  'measurements_mismatch',   // measured software is not a reference release of the device's group
  'version_below_minimum',   // swversion below the group's minimum secure version
  'no_reference_values',     // the group has no registered release to compare with
] as const;
export type AttestationRefusal = (typeof AttestationRefusals)[number];

/** ueid for a device key: 0x01 || SHA-256(SPKI DER), base64url. */
export function ueidForKey(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const digest = createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest();
  return Buffer.concat([Buffer.from([0x01]), digest]).toString('base64url');
}

/** The device id (hex SHA-256 of SPKI) inside a ueid, or undefined if it is not one of ours. */
export function deviceIdFromUeid(ueid: string): string | undefined {
  const bytes = Buffer.from(ueid, 'base64url');
  if (bytes.length !== 33 || bytes[0] !== 0x01 || bytes.toString('base64url') !== ueid) return undefined;
  return bytes.subarray(1).toString('hex');
}

/** ECDSA DER (RFC 3279) -> JOSE raw r||s (RFC 7518 §3.4), P-256. */
export function derToJoseSignature(der: Buffer): Buffer {
  // node:crypto can do the conversion itself when verifying; for signing through a KeyStore that
  // only returns DER we unpack the two INTEGERs.
  let i = 0;
  const expect = (tag: number) => {
    if (der[i++] !== tag) throw new ProtocolError('signature_malformed', 'not a DER ECDSA signature');
  };
  const readLength = () => {
    let len = der[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let k = 0; k < n; k++) len = (len << 8) | der[i++]!;
    }
    return len;
  };
  expect(0x30);
  readLength();
  const readInt = () => {
    expect(0x02);
    const len = readLength();
    let v = der.subarray(i, i + len);
    i += len;
    while (v.length > 32 && v[0] === 0) v = v.subarray(1);
    if (v.length > 32) throw new ProtocolError('signature_malformed', 'ECDSA integer longer than 32 bytes');
    return Buffer.concat([Buffer.alloc(32 - v.length), v]);
  };
  return Buffer.concat([readInt(), readInt()]);
}

/**
 * Builds the compact JWS of an EAT with a signer that never exposes the private key
 * (a KeyStore's `sign`, returning DER). Header: {alg: ES256, typ: eat+jwt, jwk}.
 */
export function encodeEvidence(claims: EvidenceClaims, publicKey: KeyObject, signDer: (data: Buffer) => Buffer): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const header = { alg: 'ES256', typ: 'eat+jwt', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } };
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = derToJoseSignature(signDer(Buffer.from(signingInput)));
  return `${signingInput}.${signature.toString('base64url')}`;
}

// ------------------------------------------------------------------------------- decoding

/** A guardian's EAT is well under 2 KiB; anything this large is not one. */
export const MAX_EVIDENCE_BYTES = 16 * 1024;
/** Measured components per EAT, at most. */
export const MAX_MEASUREMENTS = 64;
const COMPONENT_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,127}$/;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** The refusals the format itself gives; every other one is the verifier's decision. */
export type EvidenceFormatRefusal = Extract<AttestationRefusal, 'evidence_malformed' | 'signature_invalid'>;

/**
 * Evidence that is not a well-formed Shellguard EAT. `details.claimedDeviceId` carries the ueid's
 * device id when it could be read: unauthenticated, for records, never for decisions.
 */
export class EvidenceFormatError extends ShellguardError<EvidenceFormatRefusal> {}

/** The signing key an EAT carries in its protected header: an EC P-256 public JWK. */
export interface EvidenceJwk {
  kty: 'EC';
  crv: 'P-256';
  /** base64url, 32 bytes */
  x: string;
  y: string;
}

/**
 * A well-formed EAT, decoded. Nothing in it is authenticated yet: the verifier must check
 * `signature` over `signingInput` with `jwk`, and that `jwk` is the key `claimedDeviceId` names.
 */
export interface DecodedEvidence {
  jwk: EvidenceJwk;
  claims: EvidenceClaims;
  /** The device id inside `claims.ueid`. */
  claimedDeviceId: string;
  /** `<header>.<payload>` exactly as received: what the signature covers (RFC 7515 §5.2 step 8). */
  signingInput: string;
  /** The decoded signature; ES256 (RFC 7518 §3.4) makes it 64 bytes R || S when genuine. */
  signature: Buffer;
}

function malformed(message: string, details: Record<string, unknown> = {}): EvidenceFormatError {
  return new EvidenceFormatError('evidence_malformed', message, details);
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

function parseJwk(jwk: unknown, details: Record<string, unknown>): EvidenceJwk {
  if (typeof jwk !== 'object' || jwk === null) throw malformed('the header must carry the signing key as jwk', details);
  const j = jwk as Record<string, unknown>;
  // RFC 7517 §4 / RFC 7518 §6.2: an EC P-256 public key and nothing else (a "d" would be a leaked private key).
  if (j.kty !== 'EC' || j.crv !== 'P-256' || typeof j.x !== 'string' || typeof j.y !== 'string' || j.d !== undefined
    || !B64URL.test(j.x) || !B64URL.test(j.y) || j.x.length !== 43 || j.y.length !== 43) {
    throw malformed('jwk must be an EC P-256 public key', details);
  }
  return { kty: 'EC', crv: 'P-256', x: j.x, y: j.y };
}

/**
 * Decodes a compact-JWS EAT and checks its structure and every claim strictly. Throws
 * EvidenceFormatError: evidence_malformed, or signature_invalid for a signature that is not
 * even base64url. It decides nothing about trust: the signature, the key binding, the nonce and
 * the reference values are the verifier's.
 */
export function decodeEvidence(jws: unknown): DecodedEvidence {
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
  const jwk = parseJwk(header.jwk, details);
  if (!B64URL.test(signaturePart)) throw new EvidenceFormatError('signature_invalid', 'the signature is not base64url', details);
  return { jwk, claims, claimedDeviceId, signingInput: `${headerPart}.${payloadPart}`, signature: Buffer.from(signaturePart, 'base64url') };
}
