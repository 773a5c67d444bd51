import { X509Certificate, randomBytes, sign } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AttestationRefusals, CHALLENGE_MAX_SKEW_MS, encodeEvidence, type AttestationRefusal, type ChallengeRequest,
} from '@shellguard/protocol';
import { AttestationError } from '../../src/fleet/index.ts';
import { BUNDLE_1_0, T0, TestGuardian, digest, fleetFixture, type FleetFixture } from './fleet-fixture.ts';

const HOUR = 3_600_000;

async function refusal(promise: Promise<unknown>): Promise<AttestationRefusal> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AttestationError);
    const code = (err as AttestationError).code;
    expect(AttestationRefusals).toContain(code);
    return code;
  }
  throw new Error('expected the appraisal to be refused');
}

describe('FleetService attestation', () => {
  let f: FleetFixture;
  let alice: TestGuardian;
  let bob: TestGuardian;

  beforeEach(async () => {
    f = await fleetFixture();
    alice = new TestGuardian('alice');
    bob = new TestGuardian('bob');
    await f.setupGroup([alice.configDigest, bob.configDigest]);
    await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
    await f.fleet.claim({ deviceId: bob.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
  });
  afterEach(async () => { await f.close(); });

  /** Nothing was issued: no certificate signed, no row, and the device is not allowed on the broker. */
  async function expectNothingIssued(): Promise<void> {
    expect(f.issuer.signed).toBe(0);
    expect(await f.certificateRows()).toBe(0);
  }

  async function stateOf(g: TestGuardian) {
    return (await f.fleet.getClaim(g.deviceId))?.state;
  }

  it('issues a 24 h operational certificate for fresh, authentic, matching evidence', async () => {
    const { nonce, expiresAt } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    expect(expiresAt).toBe(T0 + 60_000);
    f.clock.now += 5_000;
    const res = await f.fleet.appraise(alice.evidence(nonce, f.clock.now));

    const leaf = new X509Certificate(res.certificatePem);
    expect(leaf.subject).toBe(`CN=${alice.deviceId}`);
    expect(Date.parse(leaf.validTo)).toBe(res.notAfter);
    // X.509 times have one-second resolution.
    expect(Math.abs(res.notAfter - (f.clock.now + 24 * HOUR))).toBeLessThan(1000);
    expect(Date.parse(leaf.validFrom)).toBeLessThanOrEqual(f.clock.now);
    expect(leaf.publicKey.export({ format: 'jwk' })).toEqual(alice.publicKey.export({ format: 'jwk' }));
    const ca = new X509Certificate(res.caPems[0]!);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    // leaf + issuing CA, concatenated
    expect(res.certificatePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);

    // The broker's question, with the serial as node reports it (uppercase hex).
    expect(await f.fleet.isDeviceAllowed(alice.deviceId, leaf.serialNumber)).toBe(true);
    expect(await f.fleet.isDeviceAllowed(bob.deviceId, leaf.serialNumber)).toBe(false);
    expect(await f.fleet.isDeviceAllowed(alice.deviceId, 'deadbeef')).toBe(false);
    f.clock.now = res.notAfter + 1;
    expect(await f.fleet.isDeviceAllowed(alice.deviceId, leaf.serialNumber)).toBe(false);

    const [record] = await f.fleet.attestations(alice.deviceId);
    expect(record).toMatchObject({ result: 'pass', authentic: true, swversion: '1.1.0', certSerial: leaf.serialNumber.toLowerCase().replace(/^0+/, '') });
    expect(f.audit.actions()).toContain('attestation.pass');
    expect(f.incidents.incidents).toHaveLength(0);
  });

  it('uses the configured certificate validity', async () => {
    const g = await fleetFixture({ certificateValidityHours: 6 });
    try {
      await g.setupGroup([alice.configDigest]);
      await g.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
      const res = await g.fleet.appraise(alice.evidence((await g.fleet.challenge(alice.challengeRequest(g.clock.now))).nonce, g.clock.now));
      expect(Math.abs(res.notAfter - (g.clock.now + 6 * HOUR))).toBeLessThan(1000);
    } finally {
      await g.close();
    }
  });

  it('refuses a forged signature (signature_invalid) and does not quarantine', async () => {
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    // Alice's key in the header, signed by someone else.
    const forged = encodeEvidence(alice.claims(nonce, f.clock.now), alice.publicKey, (d) => sign('sha256', d, bob.privateKey));
    expect(await refusal(f.fleet.appraise(forged))).toBe('signature_invalid');
    // Random bytes as the signature.
    const good = alice.evidence(nonce, f.clock.now);
    const randomSig = `${good.slice(0, good.lastIndexOf('.'))}.${randomBytes(64).toString('base64url')}`;
    expect(await refusal(f.fleet.appraise(randomSig))).toBe('signature_invalid');
    await expectNothingIssued();
    expect(await stateOf(alice)).toBe('claimed');
    expect(f.quarantined).toEqual([]);
    // The nonce was not spent by the forgery: alice can still use it.
    await f.fleet.appraise(good);
  });

  it("refuses evidence signed by another device's key (key_mismatch)", async () => {
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    // Bob signs with his own key, but the ueid names alice.
    const evidence = bob.evidence(nonce, f.clock.now, { ueid: alice.claims(nonce, 0).ueid });
    expect(await refusal(f.fleet.appraise(evidence))).toBe('key_mismatch');
    await expectNothingIssued();
    expect(await stateOf(alice)).toBe('claimed');
    expect(await stateOf(bob)).toBe('claimed');
  });

  it('refuses a replayed nonce (nonce_replayed)', async () => {
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    const evidence = alice.evidence(nonce, f.clock.now);
    await f.fleet.appraise(evidence);
    f.issuer.signed = 0;
    await sql`DELETE FROM fleet_certificates`.execute(f.database.db);
    expect(await refusal(f.fleet.appraise(evidence))).toBe('nonce_replayed');
    await expectNothingIssued();
    expect(await stateOf(alice)).toBe('claimed');
  });

  it('refuses an expired nonce (nonce_expired)', async () => {
    const { nonce, expiresAt } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    f.clock.now = expiresAt + 1;
    expect(await refusal(f.fleet.appraise(alice.evidence(nonce, f.clock.now)))).toBe('nonce_expired');
    await expectNothingIssued();
  });

  it('refuses a nonce issued to another device or never issued (nonce_unknown)', async () => {
    const { nonce } = await f.fleet.challenge(bob.challengeRequest(f.clock.now));
    expect(await refusal(f.fleet.appraise(alice.evidence(nonce, f.clock.now)))).toBe('nonce_unknown');
    expect(await refusal(f.fleet.appraise(alice.evidence(randomBytes(32).toString('base64url'), f.clock.now)))).toBe('nonce_unknown');
    await expectNothingIssued();
  });

  it('answers a proven challenge from an unclaimed device like any other, and refuses it at the appraisal (device_unclaimed)', async () => {
    const stranger = new TestGuardian('stranger');
    const answer = await f.fleet.challenge(stranger.challengeRequest(f.clock.now));
    expect(answer).toEqual({ nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresAt: T0 + 60_000 });
    expect(await refusal(f.fleet.appraise(stranger.evidence(answer.nonce, f.clock.now)))).toBe('device_unclaimed');
    // Evidence from an unclaimed device, carrying a nonce issued to a claimed one.
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    expect(await refusal(f.fleet.appraise(stranger.evidence(nonce, f.clock.now)))).toBe('device_unclaimed');
    await expectNothingIssued();
    expect(f.incidents.incidents.at(-1)).toMatchObject({ reason: 'device_unclaimed' });
  });

  it('refuses measurements that do not match (a guardian file modified on disk) and quarantines the device', async () => {
    alice.measurements = alice.measurements.map((m) => m.component === 'guardian-bundle' ? { ...m, digest: digest('patched bundle') } : m);
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    expect(await refusal(f.fleet.appraise(alice.evidence(nonce, f.clock.now)))).toBe('measurements_mismatch');
    await expectNothingIssued();
    expect(await stateOf(alice)).toBe('quarantined');
    expect((await f.fleet.getClaim(alice.deviceId))?.reason).toBe('measurements_mismatch');
    expect(f.quarantined).toEqual([alice.deviceId]);
    expect(f.audit.actions()).toEqual(expect.arrayContaining(['attestation.refused', 'device.quarantine']));
    const incident = f.incidents.incidents.at(-1)!;
    expect(incident).toMatchObject({ kind: 'attestation_failed', reason: 'measurements_mismatch', deviceId: alice.deviceId });
    expect(JSON.stringify(incident.detail)).toContain('guardian-bundle');
    const [record] = await f.fleet.attestations(alice.deviceId);
    expect(record).toMatchObject({ result: 'fail', reason: 'measurements_mismatch', authentic: true });
  });

  it('refuses evidence missing a required component (measurements_mismatch)', async () => {
    alice.measurements = alice.measurements.filter((m) => m.component !== 'profiles');
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    expect(await refusal(f.fleet.appraise(alice.evidence(nonce, f.clock.now)))).toBe('measurements_mismatch');
    await expectNothingIssued();
  });

  it('refuses a version below the group minimum (version_below_minimum) and quarantines', async () => {
    await f.fleet.defineGroup({ id: 'ahu-gw', site: 'dc1', minSecureVersion: '1.1.0' }, 'token:admin');
    alice.swversion = '1.0.0';
    alice.measurements = alice.measurements.map((m) => m.component === 'guardian-bundle' ? { ...m, digest: BUNDLE_1_0 } : m);
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    expect(await refusal(f.fleet.appraise(alice.evidence(nonce, f.clock.now)))).toBe('version_below_minimum');
    await expectNothingIssued();
    expect(await stateOf(alice)).toBe('quarantined');
  });

  it('refuses a quarantined device until an operator releases it (device_quarantined)', async () => {
    const genuine = [...alice.measurements];
    alice.measurements = alice.measurements.map((m) => m.component === 'runtime' ? { ...m, digest: digest('other node') } : m);
    await refusal(f.fleet.appraise(alice.evidence((await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce, f.clock.now)));
    alice.measurements = genuine;
    expect(await refusal(f.fleet.appraise(alice.evidence((await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce, f.clock.now)))).toBe('device_quarantined');
    await expectNothingIssued();

    await expect(f.fleet.releaseQuarantine(bob.deviceId, 'token:admin')).rejects.toMatchObject({ code: 'device_not_quarantined' });
    await f.fleet.releaseQuarantine(alice.deviceId, 'token:admin');
    expect(f.audit.actions()).toContain('device.quarantine.release');
    await f.fleet.appraise(alice.evidence((await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce, f.clock.now));
    expect(f.issuer.signed).toBe(1);
  });

  it('refuses a revoked device (device_revoked), disconnects it and lists its certificate for the CRL', async () => {
    const res = await f.fleet.appraise(alice.evidence((await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce, f.clock.now));
    const serial = new X509Certificate(res.certificatePem).serialNumber;
    expect(await f.fleet.isDeviceAllowed(alice.deviceId, serial)).toBe(true);
    const pending = (await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce;

    f.clock.now += 1000;
    await f.fleet.revoke(alice.deviceId, 'token:admin', 'stolen from the plant room');
    expect(f.revoked).toEqual([alice.deviceId]);
    expect(await f.fleet.isDeviceAllowed(alice.deviceId, serial)).toBe(false);
    expect(f.audit.events.at(-1)).toMatchObject({ action: 'device.revoke', target: `device:${alice.deviceId}` });

    f.issuer.signed = 0;
    // The challenge does not say so (same answer as for a claimed device); the appraisal does.
    const afterRevoke = (await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce;
    expect(await refusal(f.fleet.appraise(alice.evidence(afterRevoke, f.clock.now)))).toBe('device_revoked');
    expect(await refusal(f.fleet.appraise(alice.evidence(pending, f.clock.now)))).toBe('device_revoked');
    expect(f.issuer.signed).toBe(0);
    expect((await f.fleet.getClaim(alice.deviceId))?.state).toBe('revoked');

    const crls = await f.fleet.crls();
    expect(crls).toHaveLength(1);
    expect(f.issuer.crlRequests.at(-1)).toEqual([{ serial: serial.toLowerCase().replace(/^0+/, ''), revokedAt: f.clock.now }]);
    // Revocation is final.
    await expect(f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin'))
      .rejects.toMatchObject({ code: 'device_revoked' });
  });

  it('never returns a certificate for a device revoked while it was being signed', async () => {
    const sign = f.issuer.signOperationalCertificate.bind(f.issuer);
    let serial = '';
    f.issuer.signOperationalCertificate = async (device, policy) => {
      const issued = await sign(device, policy);
      serial = issued.serial;
      await f.fleet.revoke(alice.deviceId, 'token:admin', 'revoked mid-flight');
      return issued;
    };
    expect(await refusal(f.fleet.appraise(alice.evidence((await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce, f.clock.now)))).toBe('device_revoked');
    expect(await f.fleet.isDeviceAllowed(alice.deviceId, serial)).toBe(false);
    await f.fleet.crls();
    expect(f.issuer.crlRequests.at(-1)!.map((r) => r.serial)).toEqual([serial.replace(/^0+/, '')]);
  });

  it('refuses a group without reference values (no_reference_values) without quarantining', async () => {
    await f.fleet.defineGroup({ id: 'empty', site: 'dc1', minSecureVersion: '1.0.0' }, 'token:admin');
    const carol = new TestGuardian('carol');
    await f.fleet.claim({ deviceId: carol.deviceId, site: 'dc1', group: 'empty' }, 'token:admin');
    expect(await refusal(f.fleet.appraise(carol.evidence((await f.fleet.challenge(carol.challengeRequest(f.clock.now))).nonce, f.clock.now)))).toBe('no_reference_values');
    expect(await stateOf(carol)).toBe('claimed');
    await expectNothingIssued();
  });

  it('refuses malformed evidence (evidence_malformed)', async () => {
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    const good = alice.evidence(nonce, f.clock.now);
    const cases = [
      'not a jws',
      'a.b',
      'x'.repeat(20_000),
      alice.evidence(nonce, f.clock.now, { bootcount: -1 }),
      alice.evidence(nonce, f.clock.now, { swversion: 'latest' }),
      alice.evidence(nonce, f.clock.now, { eat_profile: 'other' }),
      alice.evidence(nonce, f.clock.now, { measurements: [{ component: 'runtime', digest: 'XYZ' }] }),
      alice.evidence(nonce, f.clock.now, { ueid: 'AAAA' }),
      // alg none
      `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${good.split('.')[1]}.`,
    ];
    for (const c of cases) expect(await refusal(f.fleet.appraise(c))).toBe('evidence_malformed');
    await expectNothingIssued();
    expect(await stateOf(alice)).toBe('claimed');
  });

  it('records unauthenticated refusals as audit events and incidents, at most once a minute per device and reason', async () => {
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    const forged = encodeEvidence(alice.claims(nonce, f.clock.now), alice.publicKey, (d) => sign('sha256', d, bob.privateKey));
    for (let i = 0; i < 5; i++) await refusal(f.fleet.appraise(forged));
    const refused = f.audit.events.filter((e) => e.action === 'attestation.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ actor: 'system', target: `device:${alice.deviceId}`, detail: { reason: 'signature_invalid', authentic: false } });
    expect(f.incidents.incidents).toHaveLength(1);
    expect(f.incidents.incidents[0]).toMatchObject({ reason: 'signature_invalid', severity: 'high', deviceId: alice.deviceId });
    f.clock.now += 61_000;
    await refusal(f.fleet.appraise(forged));
    expect(f.incidents.incidents).toHaveLength(2);
    // Not shown as the device's own last attestation.
    expect((await f.fleet.fleetView()).find((d) => d.deviceId === alice.deviceId)?.lastAttestation).toBeUndefined();
  });

  it('renews across several days on fake time, one certificate per appraisal', async () => {
    const serials = new Set<string>();
    for (let day = 0; day < 4; day++) {
      for (let renewal = 0; renewal < 2; renewal++) {
        const res = await f.fleet.appraise(alice.evidence((await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce, f.clock.now));
        const serial = new X509Certificate(res.certificatePem).serialNumber;
        serials.add(serial);
        expect(await f.fleet.isDeviceAllowed(alice.deviceId, serial)).toBe(true);
        f.clock.now += 12 * HOUR;
      }
    }
    expect(serials.size).toBe(8);
    expect(await f.certificateRows()).toBe(8);
  });
});

describe('FleetService challenge: proof of possession', () => {
  let f: FleetFixture;
  let alice: TestGuardian;
  let mallory: TestGuardian;

  beforeEach(async () => {
    f = await fleetFixture();
    alice = new TestGuardian('alice');
    mallory = new TestGuardian('mallory');
    await f.setupGroup([alice.configDigest]);
    await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
  });
  afterEach(async () => { await f.close(); });

  async function challengeRefusal(request: unknown): Promise<string | undefined> {
    try {
      await f.fleet.challenge(request as ChallengeRequest);
    } catch (err) {
      expect(err).toBeInstanceOf(AttestationError);
      return (err as AttestationError).code;
    }
    return undefined;
  }

  it("refuses a request without the device's key behind it (challenge_proof_invalid)", async () => {
    expect(await challengeRefusal({ deviceId: alice.deviceId })).toBe('challenge_proof_invalid');
    expect(await challengeRefusal('not-a-device')).toBe('challenge_proof_invalid');
    // Mallory's own key and signature, presented for alice's id.
    expect(await challengeRefusal({ ...mallory.challengeRequest(f.clock.now), deviceId: alice.deviceId })).toBe('challenge_proof_invalid');
    // Alice's key, Mallory's signature.
    const genuine = alice.challengeRequest(f.clock.now);
    const other = mallory.challengeRequest(f.clock.now, genuine.requestId);
    expect(await challengeRefusal({ ...genuine, signature: other.signature })).toBe('challenge_proof_invalid');
  });

  it("keeps a device's nonce working however many challenges others send for its id", async () => {
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    for (let i = 0; i < 50; i++) {
      expect(await challengeRefusal({ deviceId: alice.deviceId })).toBe('challenge_proof_invalid');
      expect(await challengeRefusal({ ...mallory.challengeRequest(f.clock.now), deviceId: alice.deviceId })).toBe('challenge_proof_invalid');
      // Proven, but for Mallory's own (unclaimed) key: answered, and touches nothing of alice's.
      await f.fleet.challenge(mallory.challengeRequest(f.clock.now));
    }
    await f.fleet.appraise(alice.evidence(nonce, f.clock.now));
    expect(f.issuer.signed).toBe(1);
  });

  it('refuses a replayed request (challenge_replayed), for claimed and unclaimed keys alike', async () => {
    const request = alice.challengeRequest(f.clock.now);
    await f.fleet.challenge(request);
    f.clock.now += 1000;
    expect(await challengeRefusal(request)).toBe('challenge_replayed');
    const stranger = mallory.challengeRequest(f.clock.now);
    await f.fleet.challenge(stranger);
    expect(await challengeRefusal(stranger)).toBe('challenge_replayed');
  });

  it('still refuses a request made before the device was claimed when it is replayed after', async () => {
    const carol = new TestGuardian('carol');
    const early = carol.challengeRequest(f.clock.now);
    await f.fleet.challenge(early);
    await f.fleet.claim({ deviceId: carol.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
    expect(await challengeRefusal(early)).toBe('challenge_replayed');
  });

  it('refuses a request issued more than the allowed skew from the server clock (challenge_stale)', async () => {
    const request = alice.challengeRequest(f.clock.now);
    f.clock.now += CHALLENGE_MAX_SKEW_MS + 1;
    expect(await challengeRefusal(request)).toBe('challenge_stale');
    expect(await challengeRefusal(alice.challengeRequest(f.clock.now + CHALLENGE_MAX_SKEW_MS + 1))).toBe('challenge_stale');
    expect(await challengeRefusal(alice.challengeRequest(f.clock.now))).toBeUndefined();
  });

  it('honours a configured skew', async () => {
    const g = await fleetFixture({ challengeMaxSkewMs: 10_000 });
    try {
      const request = alice.challengeRequest(g.clock.now - 10_001);
      await expect(g.fleet.challenge(request)).rejects.toMatchObject({ code: 'challenge_stale' });
    } finally {
      await g.close();
    }
  });

  it('gives the same answer for claimed, quarantined, revoked and unknown devices; the appraisal tells them apart', async () => {
    const quarantined = new TestGuardian('quarantined');
    const revoked = new TestGuardian('revoked');
    await f.setupGroup([alice.configDigest, quarantined.configDigest, revoked.configDigest]);
    for (const g of [quarantined, revoked]) await f.fleet.claim({ deviceId: g.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
    await f.fleet.revoke(revoked.deviceId, 'token:admin', 'stolen');
    const genuine = [...quarantined.measurements];
    quarantined.measurements = quarantined.measurements.map((m) => m.component === 'runtime' ? { ...m, digest: digest('other node') } : m);
    await refusal(f.fleet.appraise(quarantined.evidence((await f.fleet.challenge(quarantined.challengeRequest(f.clock.now))).nonce, f.clock.now)));
    quarantined.measurements = genuine;
    expect((await f.fleet.getClaim(quarantined.deviceId))?.state).toBe('quarantined');

    const devices = { claimed: alice, quarantined, revoked, unknown: mallory };
    const answers = Object.fromEntries(await Promise.all(Object.entries(devices).map(async ([k, g]) => [k, await f.fleet.challenge(g.challengeRequest(f.clock.now))] as const)));
    const shape = (a: { nonce: string; expiresAt: number }) => ({ keys: Object.keys(a), nonceLength: a.nonce.length, expiresAt: a.expiresAt });
    for (const a of Object.values(answers)) expect(shape(a)).toEqual(shape(answers.claimed!));

    f.issuer.signed = 0;
    const outcome = async (g: TestGuardian, nonce: string) => {
      try {
        await f.fleet.appraise(g.evidence(nonce, f.clock.now));
        return 'pass';
      } catch (err) {
        return (err as AttestationError).code;
      }
    };
    expect(await outcome(alice, answers.claimed!.nonce)).toBe('pass');
    expect(await outcome(quarantined, answers.quarantined!.nonce)).toBe('device_quarantined');
    expect(await outcome(revoked, answers.revoked!.nonce)).toBe('device_revoked');
    expect(await outcome(mallory, answers.unknown!.nonce)).toBe('device_unclaimed');
  });
});
