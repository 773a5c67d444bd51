import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AssetBirth } from '@shellguard/protocol';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteSiteRegistry } from '../../src/registry/sqlite-site-registry.ts';

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

let dir: string;
let db: SqliteDatabase;
let registry: SqliteSiteRegistry;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-registry-'));
  db = openDatabase(join(dir, 'server.db'));
  registry = new SqliteSiteRegistry(db, { now: () => 1000 });
});
afterEach(() => {
  registry.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteSiteRegistry', () => {
  it('records sites, areas, assets and points from births, filterable by site and type', () => {
    registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', 500);
    registry.recordAssetBirth('dev-1', 'site-a', ahu, 600);
    registry.recordAssetBirth('dev-1', 'site-a', ups, 600);
    registry.recordAssetBirth('dev-2', 'site-b', ahu, 700);

    expect(registry.listSites()).toEqual([
      { id: 'site-a', firstSeen: 500, areaCount: 2, assetCount: 2 },
      { id: 'site-b', firstSeen: 700, areaCount: 1, assetCount: 1 },
    ]);
    expect(registry.listAreas('site-a')).toEqual([
      { site: 'site-a', id: 'elec-1', assetCount: 1 },
      { site: 'site-a', id: 'hall-1', assetCount: 1 },
    ]);
    expect(registry.listAssets({ type: 'ahu' }).map((a) => `${a.site}/${a.id}`)).toEqual(['site-a/AHU-1', 'site-b/AHU-1']);
    expect(registry.listAssets({ site: 'site-a', type: 'ups' })).toEqual([{
      site: 'site-a', id: 'UPS-1', name: 'UPS 1', type: 'ups', profile: 'generic-ups', area: 'elec-1', deviceId: 'dev-1',
      updatedAt: 600,
    }]);
    expect(registry.findAssets('AHU-1')).toHaveLength(2);
    expect(registry.findAssets('AHU-1', 'site-b')).toHaveLength(1);
    expect(registry.listPoints('site-a', 'AHU-1').map((p) => [p.name, p.unit, p.kind])).toEqual([
      ['fan_running', '', 'binary'], ['supply_air_temp', 'degC', 'analog'],
    ]);
  });

  it('replaces an asset\'s points with those of its latest birth', () => {
    registry.recordAssetBirth('dev-1', 'site-a', ahu);
    registry.recordAssetBirth('dev-1', 'site-a', { ...ahu, name: 'AHU one', points: [ahu.points[0]!] });
    expect(registry.findAssets('AHU-1')[0]!.name).toBe('AHU one');
    expect(registry.listPoints('site-a', 'AHU-1').map((p) => p.name)).toEqual(['supply_air_temp']);
  });

  it('tracks devices online, offline and last seen with their asset count', () => {
    registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', 100);
    registry.recordAssetBirth('dev-1', 'site-a', ahu, 110);
    registry.recordDeviceSeen('dev-1', 150);
    registry.recordDeviceSeen('dev-9', 160);
    expect(registry.listDevices()).toEqual([
      { id: 'dev-1', site: 'site-a', firstSeen: 100, lastSeen: 150, online: true, version: '0.1.0', assetCount: 1, clockOffsetMs: null },
      { id: 'dev-9', site: '', firstSeen: 160, lastSeen: 160, online: true, version: '', assetCount: 0, clockOffsetMs: null },
    ]);
    registry.flushSeen();
    registry.recordDeviceOffline('dev-1', 200);
    const dev1 = registry.listDevices().find((d) => d.id === 'dev-1')!;
    expect(dev1).toMatchObject({ online: false, lastSeen: 200, firstSeen: 100 });
    registry.recordDeviceOnline('dev-1', 'site-a', '0.2.0', 300);
    expect(registry.listDevices().find((d) => d.id === 'dev-1')).toMatchObject({ online: true, version: '0.2.0', lastSeen: 300 });
  });

  it('binds an asset to one guardian: a birth from another changes nothing, until an operator moves it', () => {
    expect(registry.recordAssetBirth('dev-1', 'site-a', ahu, 100)).toBe(true);
    expect(registry.recordAssetBirth('dev-2', 'site-a', { ...ahu, name: 'taken over', area: 'elsewhere' }, 200)).toBe(false);
    expect(registry.findAssets('AHU-1', 'site-a')[0]).toMatchObject({ name: 'Air handler 1', area: 'hall-1', deviceId: 'dev-1' });
    expect(registry.bindAsset('site-a', 'AHU-1', 'dev-2')).toBe(false);
    expect(registry.assetsOf('dev-1')).toEqual([{ site: 'site-a', asset: 'AHU-1' }]);

    expect(registry.moveAsset('site-a', 'AHU-1', 'dev-2', 300)).toEqual({ site: 'site-a', asset: 'AHU-1', from: 'dev-1', to: 'dev-2' });
    expect(registry.assetOwner('site-a', 'AHU-1')).toBe('dev-2');
    expect(registry.assetsOf('dev-1')).toEqual([]);
    expect(registry.recordAssetBirth('dev-1', 'site-a', ahu, 400)).toBe(false);
    expect(() => registry.moveAsset('site-a', 'NOPE', 'dev-2')).toThrow(/no asset NOPE/);

    // The binding is in the database: a restarted registry knows it.
    registry.close();
    registry = new SqliteSiteRegistry(db);
    expect(registry.assetOwner('site-a', 'AHU-1')).toBe('dev-2');
  });

  it('binds an asset reported before its birth, and lets the birth describe it', () => {
    expect(registry.bindAsset('site-a', 'UPS-1', 'dev-1', 100)).toBe(true);
    expect(registry.findAssets('UPS-1')[0]).toMatchObject({ deviceId: 'dev-1', type: 'unknown' });
    expect(registry.recordAssetBirth('dev-1', 'site-a', ups, 200)).toBe(true);
    expect(registry.findAssets('UPS-1')[0]).toMatchObject({ deviceId: 'dev-1', type: 'ups', name: 'UPS 1' });
  });

  it('keeps last-seen times across a restart once flushed on close', () => {
    registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', 100);
    registry.recordDeviceSeen('dev-1', 400);
    registry.close();
    registry = new SqliteSiteRegistry(db);
    expect(registry.listDevices()[0]).toMatchObject({ id: 'dev-1', lastSeen: 400 });
  });
});
