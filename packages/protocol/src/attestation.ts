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
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { ProtocolError } from './errors.ts';

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
