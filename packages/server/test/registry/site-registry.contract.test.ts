import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AssetBirth } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { migrateServerDatabase } from '../../src/db/schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import type { AuditEventInput, AuditRecorder } from '../../src/audit/audit-log.ts';
import { AssetMoves, type AssetMoveTx } from '../../src/registry/asset-moves.ts';
import { RegistryError } from '../../src/registry/registry-error.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';

const ahu: AssetBirth = {
  asset: 'AHU-1', name: 'Air handler 1', type: 'ahu', area: 'hall-1', profile: 'generic-ahu',
  points: [
    { name: 'supply_air_temp', unit: 'degC', kind: 'analog', description: 'Supply air temperature' },
    { name: 'fan_running', unit: '', kind: 'binary', description: 'Fan running' },
  ],
};
const ups: AssetBirth = {
  asset: 'UPS-1', name: 'UPS 1', type: 'ups', area: 'elec-1', profile: 'generic-ups',
  points: [{ name: 'load_pct', unit: '%', kind: 'analog', description: 'Load' }],
};

/** Audit events in a table of the test database, so they commit or roll back with the move. */
async function auditTable(database: SqlDatabase): Promise<void> {
  await database.db.schema.createTable('test_audit').ifNotExists()
    .addColumn('action', 'text', (c) => c.notNull()).addColumn('target', 'text', (c) => c.notNull()).addColumn('detail', 'text', (c) => c.notNull())
    .execute();
}
function tableRecorder(database: SqlDatabase['db'], fail = false): AuditRecorder {
  return {
    async record(e: AuditEventInput) {
      if (fail) throw new Error('audit chain unavailable');
      await database.insertInto('test_audit').values({ action: e.action, target: e.target, detail: JSON.stringify(e.detail) }).execute();
      return { ...e, seq: 1, at: 0, prevHash: '', hash: '' };
    },
  };
}

describe.each(SQL_ENGINES)('SiteRegistry on %s', (engine) => {
  let t: TestDatabase;
  let clock: ManualClock;
  let registry: SqlSiteRegistry;
  const open = (database: SqlDatabase = t.database) => new SqlSiteRegistry(database.db, database.engine, { clock });

  beforeEach(async () => {
    t = await createTestDatabase(engine, 'registry');
    await migrateServerDatabase(t.database);
    clock = new ManualClock(1000);
    registry = open();
  });
  afterEach(async () => {
    await registry.close();
    await t.destroy();
  });

  describe('births and listings', () => {
    it('records sites, areas, assets and points from births, filterable by site and type', async () => {
      await registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', 500);
      expect(await registry.recordAssetBirth('dev-1', 'site-a', ahu, 600)).toBe(true);
      expect(await registry.recordAssetBirth('dev-1', 'site-a', ups, 600)).toBe(true);
      expect(await registry.recordAssetBirth('dev-2', 'site-b', ahu, 700)).toBe(true);

      expect(await registry.listSites()).toEqual([
        { id: 'site-a', firstSeen: 500, areaCount: 2, assetCount: 2 },
        { id: 'site-b', firstSeen: 700, areaCount: 1, assetCount: 1 },
      ]);
      expect(await registry.listAreas('site-a')).toEqual([
        { site: 'site-a', id: 'elec-1', assetCount: 1 },
        { site: 'site-a', id: 'hall-1', assetCount: 1 },
      ]);
      expect(await registry.listAreas('nowhere')).toEqual([]);
      expect((await registry.listAssets({ type: 'ahu' })).map((a) => `${a.site}/${a.id}`)).toEqual(['site-a/AHU-1', 'site-b/AHU-1']);
      expect(await registry.listAssets({ site: 'site-a', type: 'ups' })).toEqual([{
        site: 'site-a', id: 'UPS-1', name: 'UPS 1', type: 'ups', profile: 'generic-ups', area: 'elec-1', deviceId: 'dev-1', updatedAt: 600,
      }]);
      expect((await registry.listAssets()).map((a) => `${a.site}/${a.id}`)).toEqual(['site-a/AHU-1', 'site-a/UPS-1', 'site-b/AHU-1']);
      expect(await registry.findAssets('AHU-1')).toHaveLength(2);
      expect((await registry.findAssets('AHU-1', 'site-b')).map((a) => a.deviceId)).toEqual(['dev-2']);
      expect(await registry.findAssets('NOPE')).toEqual([]);
      expect((await registry.listPoints('site-a', 'AHU-1')).map((p) => [p.name, p.unit, p.kind, p.description])).toEqual([
        ['fan_running', '', 'binary', 'Fan running'], ['supply_air_temp', 'degC', 'analog', 'Supply air temperature'],
      ]);
    });

    it('lists in code-unit order on both engines (case and hyphens count)', async () => {
      for (const id of ['b-2', 'B1', 'a-10', 'a1', 'A-2']) await registry.recordAssetBirth('dev-1', 'site-a', { ...ups, asset: id }, 600);
      expect((await registry.listAssets()).map((a) => a.id)).toEqual(['A-2', 'B1', 'a-10', 'a1', 'b-2']);
    });

    it('replaces an asset\'s points with those of its latest birth, keeping the last definition of a point named twice', async () => {
      await registry.recordAssetBirth('dev-1', 'site-a', ahu);
      await registry.recordAssetBirth('dev-1', 'site-a', {
        ...ahu, name: 'AHU one', points: [ahu.points[0]!, { ...ahu.points[0]!, unit: 'K' }],
      });
      expect((await registry.findAssets('AHU-1'))[0]!.name).toBe('AHU one');
      expect((await registry.listPoints('site-a', 'AHU-1')).map((p) => [p.name, p.unit])).toEqual([['supply_air_temp', 'K']]);
    });

    it('records a birth with many points', async () => {
      const points = Array.from({ length: 1200 }, (_, i) => ({ name: `p${String(i).padStart(4, '0')}`, unit: '', kind: 'analog' as const, description: '' }));
      expect(await registry.recordAssetBirth('dev-1', 'site-a', { ...ahu, points })).toBe(true);
      expect(await registry.listPoints('site-a', 'AHU-1')).toHaveLength(1200);
    });
  });

  describe('asset ownership', () => {
    it('binds an asset to one guardian: a birth from another changes nothing', async () => {
      expect(await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100)).toBe(true);
      expect(await registry.recordAssetBirth('dev-2', 'site-a', { ...ahu, name: 'taken over', area: 'elsewhere', points: [] }, 200)).toBe(false);
      expect((await registry.findAssets('AHU-1', 'site-a'))[0]).toMatchObject({ name: 'Air handler 1', area: 'hall-1', deviceId: 'dev-1', updatedAt: 100 });
      expect(await registry.listPoints('site-a', 'AHU-1')).toHaveLength(2);
      expect((await registry.listAreas('site-a')).map((a) => a.id)).toEqual(['hall-1']);
      expect(await registry.bindAsset('site-a', 'AHU-1', 'dev-2')).toEqual({ owner: 'dev-1', bound: false });
      expect(await registry.bindAsset('site-a', 'AHU-1', 'dev-1')).toEqual({ owner: 'dev-1', bound: false });
      expect(await registry.assetOwner('site-a', 'AHU-1')).toBe('dev-1');
      expect(await registry.assetOwner('site-a', 'NOPE')).toBeUndefined();
      expect(await registry.assetsOf('dev-1')).toEqual([{ site: 'site-a', asset: 'AHU-1' }]);
      expect(await registry.assetsOf('dev-2')).toEqual([]);
    });

    it('binds an asset reported before its birth, and lets the birth describe it', async () => {
      expect(await registry.bindAsset('site-a', 'UPS-1', 'dev-1', 100)).toEqual({ owner: 'dev-1', bound: true });
      expect((await registry.findAssets('UPS-1'))[0]).toMatchObject({ deviceId: 'dev-1', type: 'unknown', area: 'unassigned' });
      expect(await registry.listSites()).toEqual([{ id: 'site-a', firstSeen: 100, areaCount: 1, assetCount: 1 }]);
      expect(await registry.recordAssetBirth('dev-1', 'site-a', ups, 200)).toBe(true);
      expect((await registry.findAssets('UPS-1'))[0]).toMatchObject({ deviceId: 'dev-1', type: 'ups', name: 'UPS 1', area: 'elec-1' });
    });

    it('reads the owners of many assets at once, leaving unbound ones out', async () => {
      for (let i = 0; i < 300; i++) await registry.bindAsset('site-a', `A-${i}`, i % 2 === 0 ? 'dev-1' : 'dev-2', 100);
      const asked = [...Array.from({ length: 300 }, (_, i) => ({ site: 'site-a', asset: `A-${i}` })), { site: 'site-a', asset: 'A-0' }, { site: 'site-b', asset: 'A-1' }];
      const owners = await registry.ownersOf(asked);
      expect(owners).toHaveLength(300);
      expect(new Set(owners.map((o) => `${o.asset}=${o.deviceId}`))).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `A-${i}=${i % 2 === 0 ? 'dev-1' : 'dev-2'}`)));
      expect(await registry.ownersOf([])).toEqual([]);
      expect(await registry.assetsOf('dev-1')).toHaveLength(150);
    });

    it('gives an asset bound concurrently by many guardians to exactly one', async () => {
      const bindings = await Promise.all(Array.from({ length: 8 }, (_, i) => registry.bindAsset('site-a', 'CRAH-2', `dev-${i}`, 100)));
      const owner = await registry.assetOwner('site-a', 'CRAH-2');
      expect(bindings.filter((b) => b.bound)).toHaveLength(1);
      expect(bindings.every((b) => b.owner === owner)).toBe(true);
    });

    // SQLite is one server's file (one connection, one write lock); replicas share PostgreSQL only.
    it.runIf(engine === 'postgres')('gives an asset two replicas bind at the same moment to exactly one', async () => {
      const other = open(t.reopen());
      for (let round = 0; round < 20; round++) {
        const asset = `CRAH-${round}`;
        const [a, b] = await Promise.all([
          registry.bindAsset('site-a', asset, 'dev-a', 100),
          other.bindAsset('site-a', asset, 'dev-b', 100),
        ]);
        expect([a.bound, b.bound].filter(Boolean), asset).toHaveLength(1);
        expect(a.owner).toBe(b.owner);
        expect(await other.assetOwner('site-a', asset)).toBe(a.owner);
      }
      // And a birth racing a bind: one guardian holds the asset, the other's birth records nothing.
      const [born, bound] = await Promise.all([
        registry.recordAssetBirth('dev-a', 'site-a', ups, 100),
        other.bindAsset('site-a', 'UPS-1', 'dev-b', 100),
      ]);
      expect(born).toBe(bound.owner === 'dev-a');
      expect(bound.bound).toBe(!born);
      await other.close();
    });

    it('moves an asset only to another guardian, and refuses an unknown asset', async () => {
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100);
      expect(await registry.moveAsset('site-a', 'AHU-1', 'dev-2', 300)).toEqual({ site: 'site-a', asset: 'AHU-1', from: 'dev-1', to: 'dev-2' });
      expect(await registry.assetOwner('site-a', 'AHU-1')).toBe('dev-2');
      expect((await registry.findAssets('AHU-1'))[0]!.updatedAt).toBe(300);
      expect(await registry.assetsOf('dev-1')).toEqual([]);
      expect(await registry.recordAssetBirth('dev-1', 'site-a', ahu, 400)).toBe(false);
      await expect(registry.moveAsset('site-a', 'NOPE', 'dev-2')).rejects.toMatchObject({ code: 'asset_not_found' });
      await expect(registry.moveAsset('site-a', 'AHU-1', 'dev-2')).rejects.toMatchObject({ code: 'asset_already_bound' });
      await expect(registry.moveAsset('site-a', 'AHU-1', 'dev-2')).rejects.toBeInstanceOf(RegistryError);
    });

    it('keeps bindings in the database: another handle sees them', async () => {
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100);
      await registry.moveAsset('site-a', 'AHU-1', 'dev-2');
      const other = open(t.reopen());
      expect(await other.assetOwner('site-a', 'AHU-1')).toBe('dev-2');
      await other.close();
    });
  });

  describe('AssetMoves', () => {
    const movesOn = (fail = false, claimedSite?: (id: string) => Promise<string | undefined>) => new AssetMoves({
      uow: sqlUnitOfWork(t.database, (tx): AssetMoveTx => ({ registry: new SqlSiteRegistry(tx, t.database.engine, { clock }), audit: tableRecorder(tx, fail) })),
      ...(claimedSite ? { claimedSite } : {}),
    });
    const audited = async () => (await t.database.db.selectFrom('test_audit').selectAll().execute()) as { action: string; target: string; detail: string }[];

    it('moves an asset and records who, from, to and why in the same transaction', async () => {
      await auditTable(t.database);
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100);
      const move = await movesOn().move({ site: 'site-a', asset: 'AHU-1', toDeviceId: 'dev-2', actor: 'user:alice', reason: 'gateway replaced' });
      expect(move).toEqual({ site: 'site-a', asset: 'AHU-1', from: 'dev-1', to: 'dev-2' });
      expect(await registry.assetOwner('site-a', 'AHU-1')).toBe('dev-2');
      expect(await audited()).toEqual([{ action: 'asset.move', target: 'asset:site-a/AHU-1', detail: JSON.stringify({ from: 'dev-1', to: 'dev-2', reason: 'gateway replaced' }) }]);
    });

    it('leaves the asset where it was when its audit event cannot be written', async () => {
      await auditTable(t.database);
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100);
      await expect(movesOn(true).move({ site: 'site-a', asset: 'AHU-1', toDeviceId: 'dev-2', actor: 'user:alice', reason: 'x' })).rejects.toThrow('audit chain unavailable');
      expect(await registry.assetOwner('site-a', 'AHU-1')).toBe('dev-1');
      expect(await audited()).toEqual([]);
    });

    it('records nothing for a refused move', async () => {
      await auditTable(t.database);
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100);
      await expect(movesOn().move({ site: 'site-a', asset: 'AHU-1', toDeviceId: 'dev-1', actor: 'user:alice', reason: 'x' })).rejects.toMatchObject({ code: 'asset_already_bound' });
      await expect(movesOn().move({ site: 'site-a', asset: 'NOPE', toDeviceId: 'dev-1', actor: 'user:alice', reason: 'x' })).rejects.toMatchObject({ code: 'asset_not_found' });
      expect(await audited()).toEqual([]);
    });

    it('moves an asset only to a guardian claimed into its site', async () => {
      await auditTable(t.database);
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100);
      const claims: Record<string, string> = { 'dev-2': 'site-b' };
      const moves = movesOn(false, (id) => Promise.resolve(claims[id]));
      await expect(moves.move({ site: 'site-a', asset: 'AHU-1', toDeviceId: 'dev-2', actor: 'u', reason: 'x' })).rejects.toMatchObject({ code: 'guardian_not_in_site', message: expect.stringMatching(/claimed into site site-b/) });
      await expect(moves.move({ site: 'site-a', asset: 'AHU-1', toDeviceId: 'dev-3', actor: 'u', reason: 'x' })).rejects.toMatchObject({ code: 'guardian_not_in_site', message: expect.stringMatching(/not claimed/) });
      expect(await registry.assetOwner('site-a', 'AHU-1')).toBe('dev-1');
      expect(await audited()).toEqual([]);
    });

    // Two operators on two replicas move the same asset at once: the row lock orders them.
    it.runIf(engine === 'postgres')('serialises concurrent moves of one asset: one wins, the other finds it already there', async () => {
      await auditTable(t.database);
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 100);
      const request = { site: 'site-a', asset: 'AHU-1', toDeviceId: 'dev-2', actor: 'u', reason: 'x' };
      const results = await Promise.allSettled([movesOn().move(request), movesOn().move(request)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'asset_already_bound' } });
      expect(await audited()).toHaveLength(1);
    });
  });

  describe('devices', () => {
    it('tracks devices online, offline and last seen with their asset count', async () => {
      await registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', 100);
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 110);
      registry.recordDeviceSeen('dev-1', 150);
      registry.recordDeviceSeen('dev-1', 140);
      registry.recordDeviceSeen('dev-9', 160);
      expect(await registry.listDevices()).toEqual([
        { id: 'dev-1', site: 'site-a', firstSeen: 100, lastSeen: 150, online: true, version: '0.1.0', assetCount: 1, clockOffsetMs: null },
        { id: 'dev-9', site: '', firstSeen: 160, lastSeen: 160, online: true, version: '', assetCount: 0, clockOffsetMs: null },
      ]);
      await registry.flushSeen();
      expect(await open().listDevices()).toEqual(await registry.listDevices());
      await registry.recordDeviceOffline('dev-1', 200);
      expect((await registry.listDevices()).find((d) => d.id === 'dev-1')).toMatchObject({ online: false, lastSeen: 200, firstSeen: 100 });
      // Last seen never goes back.
      await registry.recordDeviceOffline('dev-1', 120);
      expect((await registry.listDevices()).find((d) => d.id === 'dev-1')).toMatchObject({ lastSeen: 200 });
      await registry.recordDeviceOnline('dev-1', 'site-a', '0.2.0', 300);
      expect((await registry.listDevices()).find((d) => d.id === 'dev-1')).toMatchObject({ online: true, version: '0.2.0', lastSeen: 300 });
    });

    it('knows a guardian first from a birth as online, and a known one keeps its version', async () => {
      await registry.recordAssetBirth('dev-1', 'site-a', ahu, 110);
      expect((await registry.listDevices())[0]).toMatchObject({ id: 'dev-1', site: 'site-a', online: true, version: '', firstSeen: 110 });
      await registry.recordDeviceOnline('dev-1', 'site-a', '0.3.0', 120);
      await registry.recordAssetBirth('dev-1', 'site-a', ups, 130);
      expect((await registry.listDevices())[0]).toMatchObject({ version: '0.3.0', lastSeen: 130, assetCount: 2 });
    });

    it('writes last-seen times on its timer and on close', async () => {
      await registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', 100);
      registry.recordDeviceSeen('dev-1', 400);
      registry.startFlushing(5_000);
      const other = open(t.reopen());
      expect((await other.listDevices())[0]).toMatchObject({ lastSeen: 100 });
      // Settled by waiting for the flush the timer started (settle runs only after a timer ran).
      await clock.advanceAsync(5_000, () => registry.flushSeen());
      expect((await other.listDevices())[0]).toMatchObject({ lastSeen: 400 });
      registry.recordDeviceSeen('dev-1', 500);
      await registry.close();
      expect((await other.listDevices())[0]).toMatchObject({ lastSeen: 500 });
      expect(clock.dueTimes()).toEqual([]);
      await other.close();
    });

    it('records the guardian\'s clock offset, rounded', async () => {
      await registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', 100);
      await registry.recordClockOffset('dev-1', -45_000.4);
      expect((await registry.listDevices())[0]!.clockOffsetMs).toBe(-45_000);
      await registry.recordClockOffset('dev-1', 1_234.6);
      expect((await registry.listDevices())[0]!.clockOffsetMs).toBe(1_235);
      // Not known yet: nothing to record it on.
      await registry.recordClockOffset('dev-unknown', 5);
      expect((await registry.listDevices()).map((d) => d.id)).toEqual(['dev-1']);
    });
  });
});
