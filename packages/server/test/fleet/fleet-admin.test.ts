import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareSemver, type DeviceReport } from '@shellguard/protocol';
import { FleetService, MAX_REPORTS_PER_DEVICE, REPORTS_PER_MINUTE } from '../../src/fleet/index.ts';
import { BUNDLE_1_0, BUNDLE_1_1, RUNTIME, TestGuardian, digest, fleetFixture, type FleetFixture } from './fleet-fixture.ts';

const report = (n: number): DeviceReport => ({ v: 1, kind: 'error', at: n, message: `error ${n}`, detail: 'stack' });

describe('FleetService administration', () => {
  let f: FleetFixture;
  let alice: TestGuardian;
  let bob: TestGuardian;

  beforeEach(async () => {
    f = await fleetFixture();
    alice = new TestGuardian('alice');
    bob = new TestGuardian('bob');
    await f.setupGroup([alice.configDigest, bob.configDigest]);
  });
  afterEach(async () => { await f.close(); });

  describe('claim', () => {
    it('claims a device into an existing group of its site and audits it', async () => {
      const claim = await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
      expect(claim).toMatchObject({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw', state: 'claimed', claimedBy: 'token:eng' });
      expect(f.audit.events.at(-1)).toMatchObject({ actor: 'token:eng', action: 'device.claim', target: `device:${alice.deviceId}` });
    });

    it('refuses a malformed id, an unknown group, a group of another site and a second claim', async () => {
      const attempt = (input: { deviceId: string; site: string; group: string }) => expect(f.fleet.claim(input, 'token:eng')).rejects;
      await attempt({ deviceId: alice.deviceId.toUpperCase(), site: 'dc1', group: 'ahu-gw' }).toMatchObject({ code: 'device_id_invalid' });
      await attempt({ deviceId: alice.deviceId, site: 'dc1', group: 'nope' }).toMatchObject({
        code: 'group_unknown', message: 'no group nope: create it first with `shellguard group create nope --site <site> --min-version <version>`',
      });
      await attempt({ deviceId: alice.deviceId, site: 'dc2', group: 'ahu-gw' }).toMatchObject({ code: 'group_site_mismatch' });
      await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
      await attempt({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }).toMatchObject({ code: 'device_already_claimed' });
      expect(f.audit.actions().filter((a) => a === 'device.claim')).toHaveLength(1);
    });

    it('claims a list, reporting each bad line without stopping', async () => {
      const result = await f.fleet.claimMany([
        { deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw', line: 2 },
        { deviceId: 'zz', site: 'dc1', group: 'ahu-gw', line: 3 },
        { deviceId: bob.deviceId, site: 'dc1', group: 'missing', line: 4 },
        { deviceId: bob.deviceId, site: 'dc1', group: 'ahu-gw', line: 5 },
        { deviceId: bob.deviceId, site: 'dc1', group: 'ahu-gw', line: 6 },
      ], 'token:eng');
      expect(result.claimed.map((c) => c.deviceId)).toEqual([alice.deviceId, bob.deviceId]);
      expect(result.errors.map((e) => [e.line, e.code])).toEqual([
        [3, 'device_id_invalid'], [4, 'group_unknown'], [6, 'device_already_claimed'],
      ]);
    });

    it('refuses revoke and release of an unclaimed device', async () => {
      await expect(f.fleet.revoke(alice.deviceId, 'token:eng', 'x')).rejects.toMatchObject({ code: 'device_unclaimed' });
      await expect(f.fleet.releaseQuarantine(alice.deviceId, 'token:eng')).rejects.toMatchObject({ code: 'device_unclaimed' });
    });

    it('revokes once: a second revoke changes nothing and records nothing', async () => {
      await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
      await f.fleet.revoke(alice.deviceId, 'token:eng', 'stolen');
      const again = await f.fleet.revoke(alice.deviceId, 'token:other', 'again');
      expect(again).toMatchObject({ state: 'revoked', reason: 'stolen', changedBy: 'token:eng' });
      expect(f.audit.actions().filter((a) => a === 'device.revoke')).toHaveLength(1);
      expect(f.revoked).toEqual([alice.deviceId]);
    });
  });

  describe('groups and releases', () => {
    it('changes the minimum secure version but never the site of a group', async () => {
      await f.fleet.defineGroup({ id: 'ahu-gw', site: 'dc1', minSecureVersion: '1.1.0' }, 'token:eng');
      expect((await f.fleet.getGroup('ahu-gw'))?.minSecureVersion).toBe('1.1.0');
      expect(f.audit.events.at(-1)).toMatchObject({ action: 'group.define', detail: { minSecureVersion: '1.1.0', previousMinSecureVersion: '1.0.0' } });
      await expect(f.fleet.defineGroup({ id: 'ahu-gw', site: 'dc2', minSecureVersion: '1.1.0' }, 'token:eng'))
        .rejects.toMatchObject({ code: 'group_site_mismatch' });
      await expect(f.fleet.defineGroup({ id: 'g', site: 'dc1', minSecureVersion: 'v1' }, 'token:eng'))
        .rejects.toMatchObject({ code: 'invalid_input' });
      expect((await f.fleet.getGroup('ahu-gw'))?.site).toBe('dc1');
    });

    it('adds another guardian\'s configuration to a release of the same code, and audits it', async () => {
      const code = [{ component: 'runtime', digest: RUNTIME }, { component: 'guardian-bundle', digest: BUNDLE_1_1 }];
      await f.fleet.registerRelease({ group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.1.0', components: [...code, { component: 'config', digest: digest('config a') }] }, 'token:eng');
      const extended = await f.fleet.registerRelease({ group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.1.0', components: [...code, { component: 'config', digest: digest('config b') }] }, 'token:eng');
      expect(extended.components.filter((c) => c.component === 'config').map((c) => c.digest)).toEqual([digest('config a'), digest('config b')]);
      expect((await f.fleet.listReleases('ahu-gw')).filter((r) => r.swversion === '1.1.0')).toHaveLength(1);
      expect(f.audit.list({}).map((e) => e.action)).toContain('group.release.extend');
      // What the next appraisal reads, on this server or another.
      const stored = (await f.another().listReleases('ahu-gw')).find((r) => r.swversion === '1.1.0')!;
      expect(stored.components.filter((c) => c.component === 'config')).toHaveLength(2);
    });

    it('registers releases idempotently, refuses a conflicting one and lists them newest first', async () => {
      const components = [{ component: 'runtime', digest: RUNTIME }, { component: 'guardian-bundle', digest: BUNDLE_1_1 }, { component: 'profiles', digest: digest('profiles v1') }];
      await f.fleet.registerRelease({ group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.1.0', components }, 'token:eng');
      await expect(f.fleet.registerRelease({
        group: 'ahu-gw', swname: 'shellguard-guardian', swversion: '1.1.0', components: [{ component: 'runtime', digest: digest('x') }],
      }, 'token:eng')).rejects.toMatchObject({ code: 'release_conflict' });
      await expect(f.fleet.registerRelease({ group: 'nope', swname: 'a', swversion: '1.0.0', components }, 'token:eng'))
        .rejects.toMatchObject({ code: 'group_unknown' });
      await expect(f.fleet.registerRelease({
        group: 'ahu-gw', swname: 'a', swversion: '2.0.0', components: [{ component: 'runtime', digest: 'abc' }],
      }, 'token:eng')).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(f.fleet.registerRelease({
        group: 'ahu-gw', swname: 'a', swversion: '2.0.0', components: [{ component: 'runtime', digest: RUNTIME }, { component: 'runtime', digest: BUNDLE_1_0 }],
      }, 'token:eng')).rejects.toMatchObject({ code: 'invalid_input' });
      expect((await f.fleet.listReleases('ahu-gw')).map((r) => r.swversion)).toEqual(['1.1.0', '1.0.0']);
      expect(f.audit.actions().filter((a) => a === 'group.release.register')).toHaveLength(2);
    });

    it('orders semantic versions as semver does', () => {
      const sorted = ['1.0.0', '1.0.0-rc.1', '1.0.0-alpha', '0.9.9', '1.10.0', '1.2.0', '1.0.0-alpha.1', '1.0.0-beta.11', '1.0.0-beta.2']
        .sort(compareSemver);
      expect(sorted).toEqual(['0.9.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0']);
    });
  });

  describe('fleetView and versionReport', () => {
    async function attest(g: TestGuardian) {
      return f.fleet.appraise(g.evidence((await f.fleet.challenge(g.challengeRequest(f.clock.now))).nonce, f.clock.now));
    }

    it('shows every device with claim state, last attestation, software and certificate expiry', async () => {
      await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
      await f.fleet.claim({ deviceId: bob.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
      const res = await attest(alice);
      await f.fleet.recordReport(alice.deviceId, report(1));
      const view = await f.fleet.fleetView();
      expect(view).toHaveLength(2);
      const a = view.find((d) => d.deviceId === alice.deviceId)!;
      expect(a).toMatchObject({
        state: 'claimed', site: 'dc1', group: 'ahu-gw', swversion: '1.1.0', certificateNotAfter: res.notAfter, reportCount: 1,
        lastAttestation: { at: f.clock.now, result: 'pass' }, measurements: alice.measurements,
      });
      const b = view.find((d) => d.deviceId === bob.deviceId)!;
      expect(b.lastAttestation).toBeUndefined();
      expect(b.certificateNotAfter).toBeUndefined();
    });

    it('finds a device on an old release, and accepts per-device configs registered in any release', async () => {
      await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
      await f.fleet.claim({ deviceId: bob.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
      bob.swversion = '1.0.0';
      bob.measurements = bob.measurements.map((m) => m.component === 'guardian-bundle' ? { ...m, digest: BUNDLE_1_0 } : m);
      await attest(alice);
      await attest(bob); // 1.0.0 is still allowed (min 1.0.0), but not what the group should run
      const report = await f.fleet.versionReport();
      expect(report).toEqual([{
        deviceId: bob.deviceId, site: 'dc1', group: 'ahu-gw', swversion: '1.0.0', measuredAt: f.clock.now,
        target: { swname: 'shellguard-guardian', swversion: '1.1.0' },
        differences: [{ component: 'guardian-bundle', expected: BUNDLE_1_1, measured: BUNDLE_1_0 }],
      }]);
    });
  });

  describe('device reports', () => {
    beforeEach(async () => {
      await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
    });

    it(`stores at most ${REPORTS_PER_MINUTE} a minute per device and counts the rest as dropped`, async () => {
      const stored = await Promise.all(Array.from({ length: REPORTS_PER_MINUTE + 3 }, (_, i) => f.fleet.recordReport(alice.deviceId, report(i))));
      expect(stored.filter(Boolean)).toHaveLength(REPORTS_PER_MINUTE);
      expect(await f.fleet.reports(alice.deviceId)).toHaveLength(REPORTS_PER_MINUTE);
      expect(f.fleet.reportsDropped(alice.deviceId)).toBe(3);
      expect((await f.fleet.fleetView())[0]!.reportsDropped).toBe(3);
      f.clock.now += 60_001;
      expect(await f.fleet.recordReport(alice.deviceId, report(99))).toBe(true);
    });

    it(`keeps the newest ${MAX_REPORTS_PER_DEVICE} per device`, async () => {
      for (let i = 0; i < 130; i++) {
        f.clock.now += 7_000;
        expect(await f.fleet.recordReport(alice.deviceId, report(i))).toBe(true);
      }
      const kept = await f.fleet.reports(alice.deviceId);
      expect(kept).toHaveLength(MAX_REPORTS_PER_DEVICE);
      expect(kept[0]!.message).toBe('error 129');
      expect(kept.at(-1)!.message).toBe('error 30');
    });

    it('refuses reports of unclaimed devices', async () => {
      expect(await f.fleet.recordReport(bob.deviceId, report(1))).toBe(false);
      expect(await f.fleet.reports(bob.deviceId)).toEqual([]);
    });
  });

  it('keeps claims, quarantines and certificates across a restart', async () => {
    await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
    await f.fleet.claim({ deviceId: bob.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:eng');
    const res = await f.fleet.appraise(alice.evidence((await f.fleet.challenge(alice.challengeRequest(f.clock.now))).nonce, f.clock.now));
    bob.measurements = bob.measurements.map((m) => m.component === 'config' ? { ...m, digest: digest('tampered') } : m);
    await expect(f.fleet.appraise(bob.evidence((await f.fleet.challenge(bob.challengeRequest(f.clock.now))).nonce, f.clock.now))).rejects.toMatchObject({ code: 'measurements_mismatch' });

    const again = f.another({ database: f.test.reopen() });
    expect(again).toBeInstanceOf(FleetService);
    expect(await again.isDeviceAllowed(alice.deviceId, new X509Certificate(res.certificatePem).serialNumber)).toBe(true);
    expect((await again.getClaim(bob.deviceId))?.state).toBe('quarantined');
    expect(await again.listReleases('ahu-gw')).toHaveLength(2);
  });
});
