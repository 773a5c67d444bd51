/**
 * The contract of the DeploymentStore port: every implementation (SQLite today) runs this suite.
 */
import { describe, expect, it } from 'vitest';
import type { Deployment, DeviceRollout } from '../../src/updates/rollout/deployment-model.ts';
import { DEFAULT_POLICY } from '../../src/updates/rollout/deployment-model.ts';
import type { DeploymentStore } from '../../src/updates/rollout/deployment-store.ts';

const deployment = (id: string, over: Partial<Deployment> = {}): Deployment => ({
  id, product: 'guardian', stream: 'application', version: '1.1.0', group: 'ahu-gw',
  target: {
    targetName: 'guardian-1.1.0.tar', length: 10, sha256: 'a'.repeat(64),
    manifest: { product: 'guardian', stream: 'application', version: '1.1.0', components: [{ component: 'guardian-bundle', digest: 'b'.repeat(64) }], platform: 'linux-x64', nodeAbi: '115' },
  },
  policy: DEFAULT_POLICY, state: 'running', currentWave: 1, waveCount: 4, waveStartedAt: 1, createdBy: 'user:alice', createdAt: 1, updatedAt: 1,
  ...over,
});

const device = (deploymentId: string, deviceId: string, over: Partial<DeviceRollout> = {}): DeviceRollout => ({
  deploymentId, deviceId, wave: 1, state: 'pending', sequence: -1, updatedAt: 1, history: [{ at: 1, state: 'pending' }], ...over,
});

export function describeDeploymentStoreContract(name: string, open: () => Promise<{ store: DeploymentStore; reopen(): Promise<DeploymentStore> }>): void {
  describe(`DeploymentStore contract: ${name}`, () => {
    it('stores deployments whole and lists them newest first, filtered by group, stream and state', async () => {
      const { store, reopen } = await open();
      await store.insertDeployment(deployment('d1', { createdAt: 10 }));
      await store.insertDeployment(deployment('d2', { createdAt: 20, stream: 'platform' }));
      await store.insertDeployment(deployment('d3', { createdAt: 30, group: 'pdu-gw' }));
      await store.saveDeployment({ ...deployment('d1', { createdAt: 10 }), state: 'halted', haltedReason: 'wave 1: 1 of 2 failed' });
      const again = await reopen();
      expect(await again.getDeployment('d1')).toMatchObject({ state: 'halted', haltedReason: 'wave 1: 1 of 2 failed', target: { manifest: { version: '1.1.0' } } });
      expect((await again.deployments()).map((d) => d.id)).toEqual(['d3', 'd2', 'd1']);
      expect((await again.deployments({ group: 'ahu-gw' })).map((d) => d.id)).toEqual(['d2', 'd1']);
      expect((await again.deployments({ stream: 'platform' })).map((d) => d.id)).toEqual(['d2']);
      expect((await again.deployments({ states: ['running'] })).map((d) => d.id)).toEqual(['d3', 'd2']);
      expect(await again.deployments({ states: [] })).toEqual([]);
      expect((await again.deployments({ limit: 1 })).map((d) => d.id)).toEqual(['d3']);
      expect(await again.getDeployment('nope')).toBeUndefined();
    });

    it('refuses a second deployment with the same id', async () => {
      const { store } = await open();
      await store.insertDeployment(deployment('d1'));
      await expect(store.insertDeployment(deployment('d1'))).rejects.toThrow();
    });

    it('upserts device records and lists them by wave, then device', async () => {
      const { store, reopen } = await open();
      await store.insertDeployment(deployment('d1'));
      await store.saveDevices([device('d1', 'c', { wave: 2 }), device('d1', 'b'), device('d1', 'a', { wave: 2 })]);
      await store.saveDevices([device('d1', 'b', { state: 'installed', sequence: 3, installedAt: 5, history: [{ at: 1, state: 'pending' }, { at: 5, state: 'installed', sequence: 3 }] })]);
      const again = await reopen();
      expect((await again.devices('d1')).map((d) => [d.deviceId, d.wave])).toEqual([['b', 1], ['a', 2], ['c', 2]]);
      expect(await again.getDevice('d1', 'b')).toMatchObject({ state: 'installed', sequence: 3, installedAt: 5, history: [{ state: 'pending' }, { state: 'installed', sequence: 3 }] });
      expect(await again.getDevice('d1', 'z')).toBeUndefined();
      expect(await again.devices('d2')).toEqual([]);
      expect(await again.stateCounts('d1')).toEqual([
        { wave: 1, state: 'installed', count: 1 }, { wave: 2, state: 'pending', count: 2 },
      ]);
      expect(await again.stateCounts('d2')).toEqual([]);
    });

    it('gives each device its record in the newest deployment of the stream it reported to', async () => {
      const { store } = await open();
      await store.insertDeployment(deployment('old', { createdAt: 10 }));
      await store.insertDeployment(deployment('new', { createdAt: 20, version: '1.2.0' }));
      await store.insertDeployment(deployment('plat', { createdAt: 30, stream: 'platform' }));
      await store.saveDevices([
        device('old', 'a', { sequence: 4, running: '1.1.0' }), device('old', 'b', { sequence: 2, running: '1.1.0' }),
        device('new', 'a', { sequence: 7, running: '1.2.0' }), device('new', 'b'),
        device('plat', 'a', { sequence: 1, running: '20.20.0' }),
      ]);
      const latest = await store.latestReports('ahu-gw', 'application');
      expect(latest.map((d) => [d.deviceId, d.deploymentId, d.running])).toEqual([['a', 'new', '1.2.0'], ['b', 'old', '1.1.0']]);
      expect((await store.latestReports('pdu-gw', 'application'))).toEqual([]);
    });

    it('commits a transaction whole, or nothing of it when it fails', async () => {
      const { store, reopen } = await open();
      await store.transaction(async (tx) => {
        await tx.insertDeployment(deployment('d1'));
        await tx.saveDevices([device('d1', 'a')]);
      });
      await expect(store.transaction(async (tx) => {
        await tx.saveDeployment({ ...deployment('d1'), state: 'aborted' });
        await tx.saveDevices([device('d1', 'b')]);
        throw new Error('something went wrong half-way');
      })).rejects.toThrow('half-way');
      const again = await reopen();
      expect((await again.getDeployment('d1'))?.state).toBe('running');
      expect((await again.devices('d1')).map((d) => d.deviceId)).toEqual(['a']);
    });

    it('runs transactions one after another', async () => {
      const { store } = await open();
      await store.insertDeployment(deployment('d1'));
      const order: string[] = [];
      await Promise.all(['x', 'y'].map((tag) => store.transaction(async (tx) => {
        order.push(`${tag} start`);
        await tx.getDeployment('d1');
        await new Promise((r) => setImmediate(r));
        order.push(`${tag} end`);
      })));
      expect(order).toEqual(['x start', 'x end', 'y start', 'y end']);
    });
  });
}
