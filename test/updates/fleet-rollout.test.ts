/**
 * Issue 11's fleet proof: 210 simulated guardians (test/support/simulated-guardian.ts — the real
 * updater, slots, TUF client, attestation and uplink, without equipment polling) on one real
 * server (HTTPS API, TUF image repository, director, rollout engine, MQTT/mTLS broker).
 *
 *  1. A good release reaches 100% in waves 1/10/50/100 and the version report shows zero mismatches.
 *  2. A bad release — it drops an equipment profile 30% of the fleet uses, so their guardian cannot
 *     start — halts at the failure threshold; every affected device rolls back by itself and says
 *     why, no later wave is instructed, and none of them is counted a success.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Measurement } from '@shellguard/protocol';
import { SimulatedGuardian } from '../support/simulated-guardian.ts';
import { PRODUCT, SITE, makeBundle, startUpdateSite, until, type UpdateSite } from '../support/update-site.ts';

const GROUP = 'hall-gateways';
const FLEET_SIZE = 210;
const TYPE_A = ['ups-generic', 'crah-generic'];
const TYPE_B = ['pdu-generic', 'ups-generic'];

async function inBatches<T>(items: T[], size: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe(`a rollout to ${FLEET_SIZE} guardians`, () => {
  let site: UpdateSite;
  let fleet: SimulatedGuardian[];

  beforeAll(async () => {
    site = await startUpdateSite('sg-rollout-');
    const { server } = site;
    // The factory release 1.0.0, registered as the group's reference values with each device type's configuration and profiles.
    const initial = await makeBundle(site.dir, '1.0.0');
    site.bundles.set('1.0.0', initial);
    await server.fleet.defineGroup({ id: GROUP, site: SITE, minSecureVersion: '0.1.0' }, 'test');
    fleet = [];
    for (let i = 0; i < FLEET_SIZE; i++) {
      // Three in ten devices are type B (they read a PDU): 30% of the fleet.
      const profiles = i % 10 < 3 ? TYPE_B : TYPE_A;
      fleet.push(new SimulatedGuardian({
        site: site.sim, dir: path.join(site.dir, `g${i}`), profiles, initialBundle: initial.bytes, initialVersion: '1.0.0', trustedRoots: site.trustedRoots,
      }));
    }
    await inBatches(fleet, 20, (g) => g.install());
    const perDevice: Measurement[] = [];
    // One device of each type: their configuration and profile digests are per-device reference values.
    for (const g of [fleet[0]!, fleet[9]!]) {
      const m = await g.measure();
      perDevice.push(...m.filter((x) => x.component === 'config' || x.component === 'profiles'));
    }
    await server.fleet.registerRelease({ group: GROUP, swname: PRODUCT, swversion: '1.0.0', components: [...initial.manifest.components, ...perDevice] }, 'test');
    for (const g of fleet) await server.fleet.claim({ deviceId: g.deviceId, site: SITE, group: GROUP }, 'test');
    await inBatches(fleet, 10, (g) => g.boot());
  }, 600_000);

  afterAll(async () => {
    await inBatches(fleet ?? [], 50, (g) => g.stop());
    await site?.close();
  }, 120_000);

  it('moves the whole fleet to a good release in waves, and the version report shows zero mismatches', async () => {
    await site.publish('1.1.0');
    const { deployment } = await site.server.updates.deployments.create({
      product: PRODUCT, stream: 'application', version: '1.1.0', group: GROUP,
      policy: { waves: [1, 10, 50, 100], healthWindowSeconds: 120, failureThreshold: 0.1, waveSoakSeconds: 0 },
    }, 'test');
    const seenWaves = new Set<number>();
    const done = await until('the rollout to complete', async () => {
      const view = await site.server.updates.deployments.get(deployment.id);
      seenWaves.add(view.deployment.currentWave);
      if (view.deployment.state === 'halted') throw new Error(`halted: ${view.deployment.haltedReason}`);
      return view.deployment.state === 'completed' ? view : undefined;
    }, 8 * 60_000).catch(async (err: unknown) => {
      // What was stuck where, for whoever reads the failure.
      const devices = await site.server.updates.deployments.devices(deployment.id);
      const stuck = devices.filter((d) => d.state !== 'healthy').slice(0, 5);
      throw new Error(`${(err as Error).message}; not healthy: ${JSON.stringify(stuck.map((d) => ({ state: d.state, reason: d.reason, wave: d.wave })))}`);
    });
    expect(done.progress.healthy).toBe(FLEET_SIZE);
    expect(done.progress.percentHealthy).toBe(100);
    expect([...seenWaves].sort()).toEqual([1, 2, 3, 4]);
    // Waves grow 1% -> 10% -> 50% -> 100% of the group.
    const sizes = done.progress.waves.map((w) => w.devices);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(FLEET_SIZE);
    expect(sizes[0]).toBeLessThan(sizes[3]!);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeGreaterThanOrEqual(sizes[i - 1]!);
    for (const g of fleet) {
      expect(g.runningVersion()).toBe('1.1.0');
      expect(g.slots.read().streams.application.trial).toBeNull();
    }
    const report = await site.server.updates.deployments.versionReport(GROUP, 'application');
    expect(report.target?.version).toBe('1.1.0');
    expect(report.devices).toHaveLength(FLEET_SIZE);
    expect(report.mismatches).toEqual([]);
  }, 10 * 60_000);

  it('halts a bad release at the failure threshold; every affected device rolls back by itself and is never counted a success', async () => {
    await site.publish('1.2.0', ['pdu-generic']);
    const { deployment } = await site.server.updates.deployments.create({
      product: PRODUCT, stream: 'application', version: '1.2.0', group: GROUP,
      policy: { waves: [1, 10, 50, 100], healthWindowSeconds: 120, failureThreshold: 0.1, waveSoakSeconds: 0 },
    }, 'test');
    const halted = await until('the rollout to halt', async () => {
      const view = await site.server.updates.deployments.get(deployment.id);
      if (view.deployment.state === 'completed') throw new Error('a bad release completed');
      return view.deployment.state === 'halted' ? view : undefined;
    }, 8 * 60_000);
    expect(halted.deployment.haltedReason).toMatch(/fail|roll/i);
    const devices = await site.server.updates.deployments.devices(deployment.id);
    const typeB = new Set(fleet.filter((_, i) => i % 10 < 3).map((g) => g.deviceId));
    // Every type-B device that was told to install is back on 1.1.0, by itself, and says why.
    const instructed = devices.filter((d) => d.state !== 'pending');
    const affected = instructed.filter((d) => typeB.has(d.deviceId));
    expect(affected.length).toBeGreaterThan(0);
    await until('every affected device to have rolled back', () => affected.every((d) => {
      const g = fleet.find((x) => x.deviceId === d.deviceId)!;
      return g.runningVersion() === '1.1.0' && g.slots.read().streams.application.trial === null && g.statuses.some((s) => s.state === 'rolled_back');
    }) ? true : undefined, 3 * 60_000);
    const after = await until('the server to record the rollbacks', async () => {
      const list = await site.server.updates.deployments.devices(deployment.id);
      const states = list.filter((d) => typeB.has(d.deviceId) && d.state !== 'pending');
      return states.every((d) => d.state === 'rolled_back') ? list : undefined;
    }, 3 * 60_000);
    for (const d of after.filter((x) => typeB.has(x.deviceId) && x.state !== 'pending')) {
      expect(d.reason).toMatch(/did not start|profile|health/);
    }
    // No device of a later wave was instructed after the halt.
    const lastWave = Math.max(...instructed.map((d) => d.wave));
    expect(after.filter((d) => d.wave > lastWave).every((d) => d.state === 'pending')).toBe(true);
    expect(after.some((d) => d.state === 'pending')).toBe(true);
    // A rolled-back device is never a success.
    const view = await site.server.updates.deployments.get(deployment.id);
    expect(view.progress.healthy).toBe(after.filter((d) => d.state === 'healthy').length);
    for (const d of after.filter((x) => x.state === 'healthy')) expect(typeB.has(d.deviceId)).toBe(false);
    // Devices never instructed still run the good release.
    for (const d of after.filter((x) => x.state === 'pending')) expect(fleet.find((g) => g.deviceId === d.deviceId)!.runningVersion()).toBe('1.1.0');
  }, 12 * 60_000);

  it('keeps the digest the build recorded equal to what an installed device measures', async () => {
    const g = fleet[0]!;
    const m = await g.measure();
    expect(m.find((x) => x.component === 'guardian-bundle')?.digest).toBe(site.bundles.get(g.runningVersion())!.manifest.components.find((c) => c.component === 'guardian-bundle')?.digest);
  });
});
