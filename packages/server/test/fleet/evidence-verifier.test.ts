import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EAT_PROFILE, deviceIdFromPublicKey, encodeEvidence, ueidForKey, type EvidenceClaims } from '@shellguard/protocol';
import { AttestationError, EvidenceVerifier } from '../../src/fleet/index.ts';

const alice = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const mallory = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const aliceId = deviceIdFromPublicKey(alice.publicKey);

function claims(ueid = ueidForKey(alice.publicKey)): EvidenceClaims {
  return {
    eat_profile: EAT_PROFILE, eat_nonce: 'bm9uY2Utbm9uY2U', ueid, swname: 'shellguard-guardian', swversion: '1.1.0',
    bootcount: 1, iat: 1_772_352_000, measurements: [{ component: 'runtime', digest: 'ab'.repeat(32) }],
  };
}

function refusal(verifier: EvidenceVerifier, jws: string): AttestationError {
  try {
    verifier.verify(jws);
  } catch (err) {
    expect(err).toBeInstanceOf(AttestationError);
    return err as AttestationError;
  }
  throw new Error('the evidence verified');
}

describe('EvidenceVerifier', () => {
  it('returns the device the signing key identifies, with its claims', () => {
    const jws = encodeEvidence(claims(), alice.publicKey, (d) => sign('sha256', d, alice.privateKey));
    const verifier = new EvidenceVerifier();
    for (let i = 0; i < 2; i++) { // the second time from the key cache
      const v = verifier.verify(jws);
      expect(v.deviceId).toBe(aliceId);
      expect(v.claims).toEqual(claims());
      expect(deviceIdFromPublicKey(v.publicKey)).toBe(aliceId);
    }
  });

  it('refuses malformed evidence with the format refusal, naming the claimed device', () => {
    const jws = encodeEvidence(claims(), alice.publicKey, (d) => sign('sha256', d, alice.privateKey));
    const [, payload, sig] = jws.split('.');
    const noneAlg = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.${sig}`;
    expect(refusal(new EvidenceVerifier(), noneAlg)).toMatchObject({ code: 'evidence_malformed', details: { claimedDeviceId: aliceId } });
    expect(refusal(new EvidenceVerifier(), 'a.b')).toMatchObject({ code: 'evidence_malformed', details: {} });
  });

  it('refuses a key that is not a point on P-256', () => {
    const header = { alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) } };
    const jws = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.AA`;
    expect(refusal(new EvidenceVerifier(), jws)).toMatchObject({ code: 'evidence_malformed', message: 'jwk is not a point on P-256' });
  });

  it('refuses a signature that does not verify with the key in the header (signature_invalid)', () => {
    const jws = encodeEvidence(claims(), alice.publicKey, (d) => sign('sha256', d, mallory.privateKey));
    expect(refusal(new EvidenceVerifier(), jws)).toMatchObject({ code: 'signature_invalid', details: { claimedDeviceId: aliceId } });
  });

  it("refuses evidence naming another device than the signer's key (key_mismatch)", () => {
    const jws = encodeEvidence(claims(), mallory.publicKey, (d) => sign('sha256', d, mallory.privateKey));
    expect(refusal(new EvidenceVerifier(), jws)).toMatchObject({
      code: 'key_mismatch', details: { claimedDeviceId: aliceId, signerDeviceId: deviceIdFromPublicKey(mallory.publicKey) },
    });
  });
});
