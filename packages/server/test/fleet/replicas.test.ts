/**
 * Two server replicas on one database (PostgreSQL: two pools; SQLite: the one connection a server
 * has, shared): every decision one replica makes on the fleet holds at the other at once.
 */
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FleetService } from '../../src/fleet/index.ts';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { BUNDLE_1_1, RUNTIME, TestGuardian, digest, fleetFixture, type FleetFixture } from './fleet-fixture.ts';

describe.each(SQL_ENGINES)('fleet across replicas (%s)', (engine) => {
  let f: FleetFixture;
  let a: FleetService;
  let b: FleetService;
  let alice: TestGuardian;

  beforeEach(async () => {
    f = await fleetFixture({}, { engine });
    a = f.fleet;
    b = f.another(engine === 'postgres' ? { database: f.test.reopen() } : {});
    alice = new TestGuardian('alice');
    await f.setupGroup([alice.configDigest]);
    await a.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
  });
  afterEach(async () => { await f.close(); });

  async function enrolAt(challenger: FleetService, appraiser: FleetService) {
    const { nonce } = await challenger.challenge(alice.challengeRequest(f.clock.now));
    return appraiser.appraise(alice.evidence(nonce, f.clock.now));
  }

  it('accepts at one replica the nonce another issued, once', async () => {
    const { nonce } = await a.challenge(alice.challengeRequest(f.clock.now));
    const evidence = alice.evidence(nonce, f.clock.now);
    const results = await Promise.allSettled([a.appraise(evidence), b.appraise(evidence)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'nonce_replayed' } });
  });

  it('refuses a device on every replica once one revoked it', async () => {
    const serial = new X509Certificate((await enrolAt(a, b)).certificatePem).serialNumber;
    expect(await a.isDeviceAllowed(alice.deviceId, serial)).toBe(true);
    expect(await b.isDeviceAllowed(alice.deviceId, serial)).toBe(true);
    await a.revoke(alice.deviceId, 'token:admin', 'stolen');
    expect(await b.isDeviceAllowed(alice.deviceId, serial)).toBe(false);
    await expect(enrolAt(b, b)).rejects.toMatchObject({ code: 'device_revoked' });
    expect(await b.crls()).toHaveLength(1);
  });

  it('refuses at one replica a device another quarantined, until it is released there', async () => {
    const serial = new X509Certificate((await enrolAt(a, a)).certificatePem).serialNumber;
    const genuine = alice.measurements;
    alice.measurements = genuine.map((m) => (m.component === 'runtime' ? { ...m, digest: digest('other node') } : m));
    await expect(enrolAt(b, b)).rejects.toMatchObject({ code: 'measurements_mismatch' });
    alice.measurements = genuine;
    expect(await a.isDeviceAllowed(alice.deviceId, serial)).toBe(false);
    await expect(enrolAt(a, a)).rejects.toMatchObject({ code: 'device_quarantined' });
    await b.releaseQuarantine(alice.deviceId, 'token:admin');
    expect(await a.isDeviceAllowed(alice.deviceId, serial)).toBe(true);
  });

  it("appraises at one replica against the reference values just registered at another (its cache notices)", async () => {
    await enrolAt(b, b); // b has the group's reference values cached now
    alice.swversion = '1.2.0';
    const bundle = digest('guardian bundle 1.2.0');
    alice.measurements = alice.measurements.map((m) => (m.component === 'guardian-bundle' ? { ...m, digest: bundle } : m));
    await a.registerRelease({
      group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.2.0',
      components: [{ component: 'runtime', digest: RUNTIME }, { component: 'guardian-bundle', digest: bundle }, { component: 'profiles', digest: digest('profiles v1') }],
    }, 'token:admin');
    await expect(enrolAt(b, b)).resolves.toMatchObject({ notAfter: expect.any(Number) });
  });

  it('keeps both replicas\' per-device values when they extend one release at the same time', async () => {
    const code = [{ component: 'runtime', digest: RUNTIME }, { component: 'guardian-bundle', digest: BUNDLE_1_1 }, { component: 'profiles', digest: digest('profiles v1') }];
    const configs = Array.from({ length: 6 }, (_, i) => digest(`config ${i}`));
    await Promise.all(configs.map((c, i) => (i % 2 === 0 ? a : b).registerRelease({
      group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.1.0', components: [...code, { component: 'config', digest: c }],
    }, 'token:admin')));
    const release = (await b.listReleases('ahu-gw')).find((r) => r.swversion === '1.1.0')!;
    expect(release.components.filter((c) => c.component === 'config').map((c) => c.digest).sort()).toEqual([...configs].sort());
  });
});
