/** The rollout ports answered by the real FleetService (fixture from test/fleet). */
import { afterEach, describe, expect, it } from 'vitest';
import type { BundleManifest } from '@shellguard/protocol';
import { fleetEvidenceCheck, fleetGroupDirectory, fleetReferenceValues } from '../../src/updates/rollout/fleet-adapters.ts';
import { digest, fleetFixture, TestGuardian, type FleetFixture } from '../fleet/fleet-fixture.ts';

let fx: FleetFixture;
afterEach(async () => { await fx?.close(); });

const RUNTIME_NEW = digest('node 20.20');
const BUNDLE_1_2 = digest('guardian bundle 1.2.0');
const manifest = (stream: 'platform' | 'application', version: string, components: { component: string; digest: string }[]): BundleManifest =>
  ({ product: 'guardian', stream, version, components, platform: 'linux-x64', nodeAbi: '115' });

async function attest(g: TestGuardian): Promise<void> {
  const { nonce } = await fx.fleet.challenge(g.challengeRequest(fx.clock.now));
  await fx.fleet.appraise(g.evidence(nonce, fx.clock.now));
}

describe('fleet adapters', () => {
  it('lists only claimed devices of the group', async () => {
    fx = await fleetFixture();
    const [a, b] = [new TestGuardian('a'), new TestGuardian('b')];
    await fx.setupGroup([a.configDigest, b.configDigest]);
    for (const g of [a, b]) await fx.fleet.claim({ deviceId: g.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
    await fx.fleet.revoke(b.deviceId, 'token:admin', 'stolen');
    expect(await fleetGroupDirectory(fx.fleet).devicesInGroup('ahu-gw')).toEqual([a.deviceId]);
    expect(await fleetGroupDirectory(fx.fleet).devicesInGroup('other')).toEqual([]);
  });

  it('lets a new application release and a platform release pass attestation while the old software still does', async () => {
    fx = await fleetFixture();
    const g = new TestGuardian('a');
    await fx.setupGroup([g.configDigest]);
    await fx.fleet.claim({ deviceId: g.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
    const refs = fleetReferenceValues(fx.fleet);
    await refs.allow('ahu-gw', manifest('application', '1.2.0', [{ component: 'guardian-bundle', digest: BUNDLE_1_2 }, { component: 'profiles', digest: digest('profiles v1') }]), 'user:alice');
    await refs.allow('ahu-gw', manifest('platform', '20.20.0', [{ component: 'runtime', digest: RUNTIME_NEW }]), 'user:alice');
    await refs.allow('ahu-gw', manifest('platform', '20.20.0', [{ component: 'runtime', digest: RUNTIME_NEW }]), 'user:alice'); // again: no conflict
    expect((await fx.fleet.listReleases('ahu-gw')).map((r) => r.swversion)).toEqual(['1.2.0', '1.2.0-platform.20.20.0', '1.1.0', '1.0.0']);

    const evidence = fleetEvidenceCheck(fx.fleet);
    await attest(g); // the old software (1.1.0) still passes
    const since = fx.clock.now + 1;
    expect(await evidence.attestedSince(g.deviceId, since)).toBeUndefined();
    fx.clock.now += 60_000;
    g.swversion = '1.2.0';
    g.measurements = g.measurements.map((m) => (m.component === 'runtime' ? { ...m, digest: RUNTIME_NEW } : m.component === 'guardian-bundle' ? { ...m, digest: BUNDLE_1_2 } : m));
    await attest(g);
    expect(await evidence.attestedSince(g.deviceId, since)).toMatchObject({
      swversion: '1.2.0', measurements: expect.arrayContaining([{ component: 'runtime', digest: RUNTIME_NEW }, { component: 'guardian-bundle', digest: BUNDLE_1_2 }]),
    });
    expect((await fx.fleet.attestations(g.deviceId)).map((a) => a.result)).toEqual(['pass', 'pass']);
    expect(fx.quarantined).toEqual([]);
  });
});
