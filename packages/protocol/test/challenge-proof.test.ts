import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AttestationRefusals, CHALLENGE_MAX_SKEW_MS, CHALLENGE_STATEMENT_CONTEXT, challengeStatement, deviceIdFromPublicKey,
  encodeChallengeRequest, importDevicePublicJwk, verifyChallengeRequest, type ChallengeRequest,
} from '../src/index.ts';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);

function keyPair() {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** A KeyStore-shaped signer: DER ECDSA, as a TPM or FileKeyStore returns it. */
function derSigner(privateKey: KeyObject) {
  return (data: Buffer) => sign('sha256', data, privateKey);
}

const device = keyPair();
const attacker = keyPair();

function requestAt(issuedAt: number, keys = device, requestId = randomBytes(16).toString('base64url')): ChallengeRequest {
  return encodeChallengeRequest({ publicKey: keys.publicKey, issuedAt, requestId }, derSigner(keys.privateKey));
}

function refusalOf(request: unknown, now = T0): string | undefined {
  const check = verifyChallengeRequest(request, { now });
  return check.ok ? undefined : check.refusal;
}

describe('challengeStatement', () => {
  it('is the context string, then deviceId, issuedAt and requestId, separated by NUL bytes', () => {
    const id = 'ab'.repeat(32);
    const statement = challengeStatement(id, 1_767_225_600_000, 'AAAAAAAAAAAAAAAAAAAAAA');
    expect(statement.toString('utf8')).toBe(`shellguard-challenge-v1\0${id}\x001767225600000\0AAAAAAAAAAAAAAAAAAAAAA`);
    expect(statement.subarray(0, CHALLENGE_STATEMENT_CONTEXT.length).toString()).toBe(CHALLENGE_STATEMENT_CONTEXT);
  });
});

describe('encodeChallengeRequest / verifyChallengeRequest', () => {
  it('signs with a DER signer and verifies: the request proves the key of its device id', () => {
    const request = requestAt(T0);
    expect(request.deviceId).toBe(deviceIdFromPublicKey(device.publicKey));
    expect(Object.keys(request.publicKey).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(request.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const check = verifyChallengeRequest(request, { now: T0 });
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.request).toMatchObject({ deviceId: request.deviceId, issuedAt: T0, requestId: request.requestId });
    expect(check.request.publicKey.export({ format: 'jwk' })).toEqual(device.publicKey.export({ format: 'jwk' }));
  });

  it('refuses the old request that carried only a device id', () => {
    expect(refusalOf({ deviceId: deviceIdFromPublicKey(device.publicKey) })).toBe('challenge_proof_invalid');
  });

  it("refuses an attacker's own key presented for someone else's device id", () => {
    const own = requestAt(T0, attacker);
    const forged = { ...own, deviceId: deviceIdFromPublicKey(device.publicKey) };
    const check = verifyChallengeRequest(forged, { now: T0 });
    expect(check).toMatchObject({ ok: false, refusal: 'challenge_proof_invalid', message: expect.stringContaining('not the key of deviceId') });
  });

  it("refuses the device's public key with a signature by another key", () => {
    const genuine = requestAt(T0);
    const statement = challengeStatement(genuine.deviceId, genuine.issuedAt, genuine.requestId);
    const signature = sign('sha256', statement, { key: attacker.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    expect(refusalOf({ ...genuine, signature })).toBe('challenge_proof_invalid');
    expect(refusalOf({ ...genuine, signature: randomBytes(64).toString('base64url') })).toBe('challenge_proof_invalid');
  });

  it('refuses a request whose signed fields were changed', () => {
    const genuine = requestAt(T0);
    expect(refusalOf({ ...genuine, issuedAt: T0 + 1 })).toBe('challenge_proof_invalid');
    expect(refusalOf({ ...genuine, requestId: randomBytes(16).toString('base64url') })).toBe('challenge_proof_invalid');
  });

  it('refuses malformed fields before any cryptography', () => {
    const genuine = requestAt(T0);
    const cases: unknown[] = [
      null, [], 'x', {},
      { ...genuine, deviceId: genuine.deviceId.toUpperCase() },
      { ...genuine, publicKey: { ...genuine.publicKey, crv: 'P-384' } },
      { ...genuine, publicKey: { ...genuine.publicKey, kty: 'RSA' } },
      // a private JWK: never accepted, even if the rest is right
      { ...genuine, publicKey: device.privateKey.export({ format: 'jwk' }) },
      { ...genuine, publicKey: { ...genuine.publicKey, x: 'A'.repeat(43) } },
      { ...genuine, issuedAt: String(T0) },
      { ...genuine, issuedAt: T0 + 0.5 },
      { ...genuine, requestId: 'short' },
      { ...genuine, requestId: 'has spaces in it, not base64url' },
      { ...genuine, signature: genuine.signature.slice(1) },
      { ...genuine, signature: sign('sha256', Buffer.from('x'), device.privateKey).toString('base64url') },
    ];
    for (const c of cases) expect(refusalOf(c)).toBe('challenge_proof_invalid');
  });

  it('refuses an issuedAt more than the allowed skew from the server clock, either way (challenge_stale)', () => {
    expect(refusalOf(requestAt(T0 - CHALLENGE_MAX_SKEW_MS - 1))).toBe('challenge_stale');
    expect(refusalOf(requestAt(T0 + CHALLENGE_MAX_SKEW_MS + 1))).toBe('challenge_stale');
    expect(refusalOf(requestAt(T0 - CHALLENGE_MAX_SKEW_MS))).toBeUndefined();
    expect(refusalOf(requestAt(T0 + CHALLENGE_MAX_SKEW_MS))).toBeUndefined();
    const check = verifyChallengeRequest(requestAt(T0), { now: T0 + 2 * 60_000, maxSkewMs: 60_000 });
    expect(check).toMatchObject({ ok: false, refusal: 'challenge_stale', message: expect.stringContaining("guardian's clock") });
  });

  it('uses an injected key importer (a verifier-side cache)', () => {
    const request = requestAt(T0);
    const seen: string[] = [];
    const check = verifyChallengeRequest(request, {
      now: T0, importKey: (jwk) => { seen.push(jwk.x); return importDevicePublicJwk(jwk); },
    });
    expect(check.ok).toBe(true);
    expect(seen).toEqual([request.publicKey.x]);
  });

  it('has its refusal codes in the shared AttestationRefusals list', () => {
    expect(AttestationRefusals).toEqual(expect.arrayContaining(['challenge_proof_invalid', 'challenge_stale', 'challenge_replayed']));
  });

  it('never throws, whatever it is given', () => {
    const genuine = requestAt(T0);
    fc.assert(fc.property(
      fc.oneof(fc.anything(), fc.record({
        deviceId: fc.oneof(fc.constant(genuine.deviceId), fc.string()),
        publicKey: fc.oneof(fc.constant(genuine.publicKey), fc.anything()),
        issuedAt: fc.oneof(fc.constant(T0), fc.double(), fc.integer()),
        requestId: fc.oneof(fc.constant(genuine.requestId), fc.string()),
        signature: fc.oneof(fc.constant(genuine.signature), fc.base64String()),
      })),
      (input) => {
        const check = verifyChallengeRequest(input, { now: T0 });
        expect(typeof check.ok).toBe('boolean');
      },
    ), { numRuns: 300 });
  });
});
