/** The DeploymentStore port's contract, on every engine (STYLE.md §2). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import type { Deployment, DeviceRollout } from '../../src/updates/rollout/deployment-model.ts';
import { DEFAULT_POLICY } from '../../src/updates/rollout/deployment-model.ts';
import { DEPLOYMENT_MIGRATIONS } from '../../src/updates/rollout/deployment-schema.ts';
import { SqlDeploymentStore } from '../../src/updates/rollout/sql-deployment-store.ts';

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

/** Another replica's handle on PostgreSQL; on SQLite (one server's file, one connection) the same server's. */
const replica = (t: TestDatabase) => (t.engine === 'postgres' ? t.reopen() : t.database);

describe.each(SQL_ENGINES)('DeploymentStore contract on %s', (engine) => {
  let t: TestDatabase;
  let store: SqlDeploymentStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'deployments');
    await runSqlMigrations(t.database, 'deployments', DEPLOYMENT_MIGRATIONS);
    store = new SqlDeploymentStore(t.database.db, { engine });
  });
  afterEach(async () => { await t.destroy(); });
  /** The same database through a new handle: what another process or a restart reads. */
  const again = () => new SqlDeploymentStore(t.reopen().db, { engine });

  describe('deployments', () => {
    it('stores deployments whole and lists them newest first, filtered by group, stream and state', async () => {
      expect(await store.insertDeployment(deployment('d1', { createdAt: 10 }))).toBe(true);
      await store.insertDeployment(deployment('d2', { createdAt: 20, stream: 'platform' }));
      await store.insertDeployment(deployment('d3', { createdAt: 30, group: 'pdu-gw' }));
      await store.insertDeployment(deployment('d0', { createdAt: 30, group: 'other' }));
      await store.saveDeployment({ ...deployment('d1', { createdAt: 10 }), state: 'halted', haltedReason: 'wave 1: 1 of 2 failed' });
      const reread = again();
      expect(await reread.getDeployment('d1')).toEqual({ ...deployment('d1', { createdAt: 10 }), state: 'halted', haltedReason: 'wave 1: 1 of 2 failed' });
      expect((await reread.deployments()).map((d) => d.id)).toEqual(['d3', 'd0', 'd2', 'd1']);
      expect((await reread.deployments({ group: 'ahu-gw' })).map((d) => d.id)).toEqual(['d2', 'd1']);
      expect((await reread.deployments({ stream: 'platform' })).map((d) => d.id)).toEqual(['d2']);
      expect((await reread.deployments({ states: ['running'] })).map((d) => d.id)).toEqual(['d3', 'd0', 'd2']);
      expect((await reread.deployments({ states: ['halted', 'paused'] })).map((d) => d.id)).toEqual(['d1']);
      expect((await reread.deployments({ group: 'ahu-gw', stream: 'application', states: ['halted'] })).map((d) => d.id)).toEqual(['d1']);
      expect(await reread.deployments({ states: [] })).toEqual([]);
      expect((await reread.deployments({ limit: 1 })).map((d) => d.id)).toEqual(['d3']);
      expect(await reread.getDeployment('nope')).toBeUndefined();
    });

    it('refuses a second deployment with the same id, storing nothing of it', async () => {
      await store.insertDeployment(deployment('d1', { state: 'completed' }));
      expect(await store.insertDeployment(deployment('d1', { group: 'other' }))).toBe(false);
      expect((await store.getDeployment('d1'))?.group).toBe('ahu-gw');
    });

    it('refuses a second running or paused deployment of a group and stream, and allows one once the first has ended', async () => {
      await store.insertDeployment(deployment('d1', { state: 'paused' }));
      expect(await store.insertDeployment(deployment('d2'))).toBe(false);
      expect(await store.insertDeployment(deployment('d3', { stream: 'platform' }))).toBe(true);
      expect(await store.insertDeployment(deployment('d4', { group: 'pdu-gw' }))).toBe(true);
      await store.saveDeployment(deployment('d1', { state: 'halted' }));
      expect(await store.insertDeployment(deployment('d5'))).toBe(true);
      expect((await store.deployments({ group: 'ahu-gw', stream: 'application' })).map((d) => d.id).sort()).toEqual(['d1', 'd5']);
    });

    it('lets one of several replicas creating a deployment of a group and stream at once win', async () => {
      const writers = [store, new SqlDeploymentStore(replica(t).db, { engine }), new SqlDeploymentStore(replica(t).db, { engine })];
      const won = await Promise.all(writers.map((w, i) => w.insertDeployment(deployment(`d${i}`))));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await store.deployments()).toHaveLength(1);
    });

    it.runIf(engine === 'postgres')('holds a deployment read for update until its unit of work commits', async () => {
      await store.insertDeployment(deployment('d1'));
      const other = sqlUnitOfWork(replica(t), (tx) => new SqlDeploymentStore(tx, { engine }));
      const events: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((r) => { release = r; });
      const first = sqlUnitOfWork(t.database, (tx) => new SqlDeploymentStore(tx, { engine })).run(async (s) => {
        await s.getDeployment('d1', { forUpdate: true });
        events.push('first holds');
        await held;
        await s.saveDeployment(deployment('d1', { state: 'paused' }));
        events.push('first commits');
      });
      while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
      const second = other.run(async (s) => {
        const seen = await s.getDeployment('d1', { forUpdate: true });
        events.push(`second reads ${seen?.state}`);
      });
      await new Promise((r) => setTimeout(r, 100));
      release();
      await Promise.all([first, second]);
      expect(events).toEqual(['first holds', 'first commits', 'second reads paused']);
    });
  });

  describe('devices', () => {
    it('upserts device records and lists them by wave, then device', async () => {
      await store.insertDeployment(deployment('d1'));
      await store.saveDevices([device('d1', 'c', { wave: 2 }), device('d1', 'b'), device('d1', 'a', { wave: 2 }), device('d1', 'B', { wave: 2 })]);
      await store.saveDevices([device('d1', 'b', { state: 'installed', sequence: 3, installedAt: 5, history: [{ at: 1, state: 'pending' }, { at: 5, state: 'installed', sequence: 3 }] })]);
      await store.saveDevices([]);
      const reread = again();
      expect((await reread.devices('d1')).map((d) => [d.deviceId, d.wave])).toEqual([['b', 1], ['B', 2], ['a', 2], ['c', 2]]);
      expect(await reread.getDevice('d1', 'b')).toEqual(device('d1', 'b', { state: 'installed', sequence: 3, installedAt: 5, history: [{ at: 1, state: 'pending' }, { at: 5, state: 'installed', sequence: 3 }] }));
      expect(await reread.getDevice('d1', 'z')).toBeUndefined();
      expect(await reread.devices('d2')).toEqual([]);
      expect(await reread.stateCounts('d1')).toEqual([
        { wave: 1, state: 'installed', count: 1 }, { wave: 2, state: 'pending', count: 3 },
      ]);
      expect(await reread.stateCounts('d2')).toEqual([]);
    });

    it('counts states per wave in state order', async () => {
      await store.insertDeployment(deployment('d1'));
      await store.saveDevices([
        device('d1', 'a', { state: 'rolled_back' }), device('d1', 'b', { state: 'healthy' }), device('d1', 'c', { state: 'healthy' }),
        device('d1', 'd', { state: 'failed', wave: 2 }),
      ]);
      expect(await store.stateCounts('d1')).toEqual([
        { wave: 1, state: 'healthy', count: 2 }, { wave: 1, state: 'rolled_back', count: 1 }, { wave: 2, state: 'failed', count: 1 },
      ]);
    });

    it('refuses a device of a deployment that does not exist', async () => {
      await expect(store.saveDevices([device('ghost', 'a')])).rejects.toThrow();
    });

    it('gives each device its record in the newest deployment of the stream it reported to', async () => {
      await store.insertDeployment(deployment('old', { createdAt: 10, state: 'completed' }));
      await store.insertDeployment(deployment('new', { createdAt: 20, version: '1.2.0' }));
      await store.insertDeployment(deployment('plat', { createdAt: 30, stream: 'platform' }));
      await store.saveDevices([
        device('old', 'a', { sequence: 4, running: '1.1.0' }), device('old', 'b', { sequence: 2, running: '1.1.0' }),
        device('new', 'a', { sequence: 7, running: '1.2.0' }), device('new', 'b'),
        device('plat', 'a', { sequence: 1, running: '20.20.0' }),
      ]);
      const latest = await store.latestReports('ahu-gw', 'application');
      expect(latest.map((d) => [d.deviceId, d.deploymentId, d.running])).toEqual([['a', 'new', '1.2.0'], ['b', 'old', '1.1.0']]);
      expect((await store.latestReports('ahu-gw', 'platform')).map((d) => d.deploymentId)).toEqual(['plat']);
      expect((await store.latestReports('pdu-gw', 'application'))).toEqual([]);
    });
  });

  it('commits a unit of work whole, or nothing of it when it fails', async () => {
    const uow = sqlUnitOfWork(t.database, (tx) => new SqlDeploymentStore(tx, { engine }));
    await uow.run(async (s) => {
      await s.insertDeployment(deployment('d1'));
      await s.saveDevices([device('d1', 'a')]);
    });
    await expect(uow.run(async (s) => {
      await s.saveDeployment({ ...deployment('d1'), state: 'aborted' });
      await s.saveDevices([device('d1', 'b'), device('d1', 'a', { state: 'failed' })]);
      throw new Error('something went wrong half-way');
    })).rejects.toThrow('half-way');
    const reread = again();
    expect((await reread.getDeployment('d1'))?.state).toBe('running');
    expect(await reread.devices('d1')).toEqual([device('d1', 'a')]);
  });
});
