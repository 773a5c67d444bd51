import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EAT_PROFILE, EvidenceFormatError, MAX_EVIDENCE_BYTES, MAX_MEASUREMENTS, decodeEvidence, deviceIdFromPublicKey, encodeEvidence, ueidForKey,
  type EvidenceClaims, type EvidenceFormatRefusal,
} from '../src/index.ts';

const device = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const deviceId = deviceIdFromPublicKey(device.publicKey);
/** A KeyStore-shaped signer: DER ECDSA, as a TPM or FileKeyStore returns it. */
const signDer = (data: Buffer) => sign('sha256', data, device.privateKey);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const DIGEST = 'ab'.repeat(32);

function claims(overrides: Partial<EvidenceClaims> = {}): EvidenceClaims {
  return {
    eat_profile: EAT_PROFILE, eat_nonce: 'bm9uY2Utbm9uY2U', ueid: ueidForKey(device.publicKey), swname: 'shellguard-guardian',
    swversion: '1.4.2', bootcount: 3, iat: 1_772_352_000, measurements: [{ component: 'runtime', digest: DIGEST }], ...overrides,
  };
}

function jwkOf(key: KeyObject) {
  const { kty, crv, x, y } = key.export({ format: 'jwk' });
  return { kty, crv, x, y };
}

/** A token with any header and payload, signed by the device (for shapes encodeEvidence never makes). */
function token(header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: device.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const HEADER = { alg: 'ES256', typ: 'eat+jwt', jwk: jwkOf(device.publicKey) };

function refusal(jws: unknown): { code: EvidenceFormatRefusal; message: string; details: Record<string, unknown> } {
  try {
    decodeEvidence(jws);
  } catch (err) {
    expect(err).toBeInstanceOf(EvidenceFormatError);
    const e = err as EvidenceFormatError;
    return { code: e.code, message: e.message, details: e.details };
  }
  throw new Error('the evidence was decoded');
}

const semver = fc.tuple(fc.nat(999), fc.nat(999), fc.nat(999), fc.option(fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/), { nil: undefined }))
  .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre === undefined ? '' : `-${pre}`}`);
const measurement = fc.record({
  component: fc.stringMatching(/^[a-z0-9][a-z0-9:._-]{0,31}$/),
  digest: fc.stringMatching(/^[0-9a-f]{64}$/),
});
const claimSet = fc.record({
  eat_profile: fc.constant(EAT_PROFILE),
  eat_nonce: fc.stringMatching(/^[A-Za-z0-9_-]{8,128}$/),
  ueid: fc.constant(ueidForKey(device.publicKey)),
  swname: fc.string({ minLength: 1, maxLength: 128 }),
  swversion: semver,
  bootcount: fc.maxSafeNat(),
  iat: fc.integer({ min: 0, max: 2 ** 40 }),
  measurements: fc.uniqueArray(measurement, { minLength: 1, maxLength: MAX_MEASUREMENTS, selector: (m) => m.component }),
});

describe('decodeEvidence', () => {
  it('gives back exactly the claims encodeEvidence signed, with the key and the signed bytes', () => {
    fc.assert(fc.property(claimSet, (c) => {
      const decoded = decodeEvidence(encodeEvidence(c, device.publicKey, signDer));
      expect(decoded.claims).toEqual(c);
      expect(decoded.claimedDeviceId).toBe(deviceId);
      expect(decoded.jwk).toEqual(jwkOf(device.publicKey));
      // What the verifier will check: the signature covers the signing input, in JOSE's R || S form.
      expect(decoded.signature).toHaveLength(64);
      expect(verify('sha256', Buffer.from(decoded.signingInput), { key: device.publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature)).toBe(true);
    }), { numRuns: 50 });
  });

  it('keeps only the claims of the profile, dropping any other member', () => {
    const decoded = decodeEvidence(token(HEADER, { ...claims(), extra: 'ignored' }));
    expect(decoded.claims).toEqual(claims());
  });

  it('decides nothing about trust: a token whose signature is wrong still decodes', () => {
    const good = encodeEvidence(claims(), device.publicKey, signDer);
    const [h, p] = good.split('.');
    const decoded = decodeEvidence(`${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`);
    expect(verify('sha256', Buffer.from(decoded.signingInput), { key: device.publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature)).toBe(false);
  });

  it.each<[string, unknown]>([
    ['not a string', 42],
    ['not a compact JWS', 'not a jws'],
    ['two parts', 'a.b'],
    ['too large', 'x'.repeat(MAX_EVIDENCE_BYTES + 1)],
    ['a header that is not JSON', `${Buffer.from('{').toString('base64url')}.${b64(claims())}.AA`],
    ['a payload that is a list', token(HEADER, [claims()])],
    ['alg none', `${b64({ alg: 'none' })}.${b64(claims())}.`],
    ['alg HS256', token({ ...HEADER, alg: 'HS256' }, claims())],
    ['a crit header', token({ ...HEADER, crit: ['exp'] }, claims())],
    ['another eat_profile', token(HEADER, claims({ eat_profile: 'other' }))],
    ['an empty eat_nonce', token(HEADER, claims({ eat_nonce: '' }))],
    ['a swversion that is not semver', token(HEADER, claims({ swversion: 'latest' }))],
    ['a negative bootcount', token(HEADER, claims({ bootcount: -1 }))],
    ['a fractional bootcount', token(HEADER, claims({ bootcount: 1.5 }))],
    ['iat as a string', token(HEADER, { ...claims(), iat: '2026-03-01' })],
    ['no measurements', token(HEADER, claims({ measurements: [] }))],
    ['too many measurements', token(HEADER, claims({
      measurements: Array.from({ length: MAX_MEASUREMENTS + 1 }, (_, i) => ({ component: `c${i}`, digest: DIGEST })),
    }))],
    ['an uppercase digest', token(HEADER, claims({ measurements: [{ component: 'runtime', digest: DIGEST.toUpperCase() }] }))],
    ['a component measured twice', token(HEADER, claims({ measurements: [{ component: 'runtime', digest: DIGEST }, { component: 'runtime', digest: DIGEST }] }))],
    ['a ueid that is not a device UEID', token(HEADER, claims({ ueid: 'AAAA' }))],
    ['no jwk', token({ alg: 'ES256' }, claims())],
    ['a private jwk', token({ ...HEADER, jwk: device.privateKey.export({ format: 'jwk' }) }, claims())],
    ['an RSA jwk', token({ ...HEADER, jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }, claims())],
  ])('refuses %s as evidence_malformed', (_what, jws) => {
    expect(refusal(jws).code).toBe('evidence_malformed');
  });

  it('names the device the ueid claims in a refusal, once the ueid can be read', () => {
    expect(refusal(token({ ...HEADER, alg: 'none' }, claims())).details).toEqual({ claimedDeviceId: deviceId });
    expect(refusal('a.b').details).toEqual({});
  });

  it('refuses a signature that is not base64url as signature_invalid', () => {
    const [h, p] = encodeEvidence(claims(), device.publicKey, signDer).split('.');
    expect(refusal(`${h}.${p}.not+base64/url`)).toMatchObject({ code: 'signature_invalid', details: { claimedDeviceId: deviceId } });
  });
});
