/**
 * The centre's view (central-view.ts) with its real store on SQLite and the in-process bus standing
 * in for the fleet stream: what sites publish is applied, a site speaks only for itself, anything
 * malformed is refused, and the fleet questions (sites, peers across sites) are answered from the store.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { InProcessBus } from '../../src/bus/in-process-bus.ts';
import { CentralView } from '../../src/federation/central-view.ts';
import { encodeFleetRecord, fleetRecordId, fleetSubject, type FleetKind, type FleetRecord } from '../../src/federation/fleet-record.ts';
import { SqlCentralStore } from '../../src/federation/sql-central-store.ts';
import { createTestDatabase, migrateServerDatabase, type TestDatabase } from '../../src/testing/index.ts';

const T0 = 1_750_000_000_000;
const FLEET_SITES = ['site-a', 'site-b', 'site-c'];

describe('CentralView', () => {
  let t: TestDatabase;
  let clock: ManualClock;
  let bus: InProcessBus;
  let view: CentralView;
  let refused: { err: Error; id: string }[];

  beforeEach(async () => {
    t = await createTestDatabase('sqlite', 'central-view');
    await migrateServerDatabase(t.database);
    clock = new ManualClock(T0);
    // One delivery: a refused message is dead-lettered at once instead of retried on the clock.
    bus = new InProcessBus({ clock, maxDeliver: 1 });
    refused = [];
    view = new CentralView({
      bus, store: new SqlCentralStore(t.database.db), sites: FLEET_SITES, now: clock.now,
      onRefused: (err, id) => refused.push({ err: err as Error, id }),
    });
    await view.start();
  });
  afterEach(async () => {
    await view.stop();
    await bus.close();
    await t.destroy();
  });

  /**
   * Publishes as a site's bus would. Site buses scope message ids by site (bus/federation.ts,
   * `siteBusOptions`); this one bus stands in for the fleet stream, so the scope is added here.
   */
  const publish = (record: FleetRecord, subject = fleetSubject(record.site, record.kind)) =>
    bus.publish(subject, encodeFleetRecord(record), { id: `${record.site}:${fleetRecordId(record)}` });

  /** Waits until the view has handled `n` messages in all (applied, stale, refused). */
  const handled = async (n: number): Promise<void> => {
    await vi.waitFor(() => {
      const s = view.stats();
      expect(s.applied + s.stale + bus.deadLetters().length).toBe(n);
    }, { timeout: 10_000 });
  };

  const rec = (site: string, kind: FleetKind, key: string, body: Record<string, unknown>, version = T0): FleetRecord =>
    ({ site, kind, key, version, body });

  it('applies the records sites publish on fleet.<site>.<kind>', async () => {
    await publish(rec('site-a', 'assets', 'dc1/AHU-1', { profile: 'ahu' }));
    await publish(rec('site-b', 'assets', 'dc1/AHU-1', { profile: 'ahu' }));
    await publish(rec('site-a', 'devices', 'dev-1', { state: 'online' }));
    await handled(3);

    expect(view.stats()).toEqual({ applied: 3, stale: 0 });
    expect((await view.records('assets')).map((r) => [r.site, r.key, r.body])).toEqual([
      ['site-a', 'dc1/AHU-1', { profile: 'ahu' }],
      ['site-b', 'dc1/AHU-1', { profile: 'ahu' }],
    ]);
    expect(await view.records('devices', 'site-a')).toEqual([
      { site: 'site-a', kind: 'devices', key: 'dev-1', version: T0, body: { state: 'online' }, receivedAt: T0 },
    ]);
    expect(refused).toEqual([]);
  });

  it('keeps the newest version and counts a late older copy as stale', async () => {
    await publish(rec('site-a', 'alarms', 'x', { state: 'ack-active' }, T0 + 10));
    await publish(rec('site-a', 'alarms', 'x', { state: 'unack-active' }, T0 + 5));
    await handled(2);
    expect(view.stats()).toEqual({ applied: 1, stale: 1 });
    expect((await view.records('alarms')).map((r) => r.body)).toEqual([{ state: 'ack-active' }]);
  });

  it('applies a removal: the record is gone from the view', async () => {
    await publish(rec('site-a', 'incidents', '7', { status: 'open' }));
    await handled(1);
    await publish({ site: 'site-a', kind: 'incidents', key: '7', version: T0 + 1, removed: true });
    await handled(2);
    expect(await view.records('incidents')).toEqual([]);
  });

  it('refuses a record about another site than the subject\'s, and never applies it', async () => {
    // Site a's bus carrying a record that claims to be site b's.
    await publish(rec('site-b', 'alarms', 'forged', { state: 'unack-active' }), fleetSubject('site-a', 'alarms'));
    // A site id that is a prefix of the subject's site is not that site.
    await publish(rec('site-a', 'assets', 'forged', { profile: 'ahu' }), fleetSubject('site-ab', 'assets'));
    await handled(2);

    expect(view.stats()).toEqual({ applied: 0, stale: 0 });
    expect(refused).toHaveLength(2);
    expect(refused.map((r) => r.err.message).sort()).toEqual([
      'a fleet record of alarms for site site-b arrived on fleet.site-a.alarms: refused (a site speaks only for itself, each kind on its subject)',
      'a fleet record of assets for site site-a arrived on fleet.site-ab.assets: refused (a site speaks only for itself, each kind on its subject)',
    ]);
    expect(bus.deadLetters().map((d) => d.group)).toEqual(['central-view', 'central-view']);
    expect(await view.records('alarms')).toEqual([]);
    expect(await view.records('assets')).toEqual([]);
    expect((await view.sites()).map((s) => s.lastReceivedAt)).toEqual([null, null, null]);
  });

  it('refuses a malformed payload, naming the message', async () => {
    await bus.publish(fleetSubject('site-a', 'assets'), new TextEncoder().encode('{"v":1,"site":'), { id: 'broken-1' });
    await bus.publish(fleetSubject('site-a', 'assets'), new TextEncoder().encode(JSON.stringify({ v: 1, site: 'site-a', kind: 'assets', key: 'k', version: T0 })), { id: 'broken-2' });
    await handled(2);

    expect(refused.map((r) => [r.id, r.err.message]).sort()).toEqual([
      ['broken-1', 'a fleet record that is not JSON'],
      ['broken-2', 'a fleet record without a body'],
    ]);
    expect(bus.deadLetters().map((d) => d.reason).sort()).toEqual(['a fleet record that is not JSON', 'a fleet record without a body']);
    expect(view.stats()).toEqual({ applied: 0, stale: 0 });
    expect(await view.records('assets')).toEqual([]);
  });

  it('goes on applying after refusing a message', async () => {
    await bus.publish(fleetSubject('site-a', 'assets'), new Uint8Array([1, 2, 3]), { id: 'junk' });
    await publish(rec('site-a', 'assets', 'ok', { profile: 'ahu' }));
    await handled(2);
    expect((await view.records('assets')).map((r) => r.key)).toEqual(['ok']);
  });

  it('lists every configured site, even before it sent anything, with its alarms not normal', async () => {
    await publish(rec('site-a', 'alarms', 'x', { state: 'unack-active' }));
    await publish(rec('site-a', 'alarms', 'y', { state: 'normal' }));
    await publish(rec('site-a', 'alarms', 'z', { state: 'ack-active' }));
    await publish(rec('site-a', 'assets', 'AHU-1', { profile: 'ahu' }));
    await handled(4);
    clock.advance(1_000);
    await publish(rec('site-b', 'alarms', 'x', { state: 'unack-normal' }));
    await publish(rec('site-b', 'alarms', 'w', { state: 'unack-active' }));
    await handled(6);
    // A removed alarm is not counted.
    await publish({ site: 'site-b', kind: 'alarms', key: 'w', version: T0 + 1, removed: true });
    await handled(7);

    expect(await view.sites()).toEqual([
      { site: 'site-a', lastReceivedAt: T0, counts: { alarms: 3, assets: 1 }, alarmsNotNormal: 2 },
      { site: 'site-b', lastReceivedAt: T0 + 1_000, counts: { alarms: 1 }, alarmsNotNormal: 1 },
      { site: 'site-c', lastReceivedAt: null, counts: {}, alarmsNotNormal: 0 },
    ]);
  });

  it('lists the configured sites when nothing arrived at all', async () => {
    expect(await view.sites()).toEqual(FLEET_SITES.map((site) => ({ site, lastReceivedAt: null, counts: {}, alarmsNotNormal: 0 })));
  });

  describe('peers', () => {
    const point = (fleetSite: string, site: string, asset: string, name: string, profile: string | null, recentMean: unknown): FleetRecord =>
      rec(fleetSite, 'points', `${site}/${asset}/${name}`, { site, asset, point: name, profile, recentMean });

    beforeEach(async () => {
      const points = [
        // Air handlers over two fleet sites; both sites call one of theirs dc1/AHU-1.
        point('site-a', 'dc1', 'AHU-1', 'supply_air_temp', 'ahu', 18.1),
        point('site-a', 'dc1', 'AHU-2', 'supply_air_temp', 'ahu', 18.3),
        point('site-b', 'dc1', 'AHU-1', 'supply_air_temp', 'ahu', 17.9),
        point('site-b', 'dc2', 'AHU-7', 'supply_air_temp', 'ahu', 27.5),
        point('site-a', 'dc1', 'AHU-1', 'fan_speed', 'ahu', 61),
        point('site-a', 'dc1', 'AHU-2', 'fan_speed', 'ahu', 60),
        point('site-b', 'dc1', 'AHU-1', 'fan_speed', 'ahu', 62),
        point('site-b', 'dc2', 'AHU-7', 'fan_speed', 'ahu', 59),
        // Another profile, far from the air handlers' levels: never among them.
        point('site-a', 'dc1', 'CH-1', 'supply_air_temp', 'chiller', 6.5),
        point('site-b', 'dc1', 'CH-2', 'supply_air_temp', 'chiller', 7.0),
        point('site-b', 'dc1', 'CH-3', 'supply_air_temp', 'chiller', 250),
        // No level yet, and no profile: skipped.
        point('site-a', 'dc1', 'AHU-3', 'supply_air_temp', 'ahu', null),
        point('site-a', 'dc1', 'X-1', 'supply_air_temp', null, 18.2),
      ];
      for (const p of points) await publish(p);
      await handled(points.length);
    });

    it('ranks assets of one profile across sites, the outlier first', async () => {
      const ranked = await view.peers('ahu');

      expect(ranked[0]).toMatchObject({ site: 'site-b/dc2', asset: 'AHU-7' });
      expect(ranked[0]!.points[0]).toMatchObject({ point: 'supply_air_temp', value: 27.5, peers: 4 });
      expect(ranked[0]!.score).toBeGreaterThan(3.5);
      // Every other air handler is close to its peers.
      for (const o of ranked.slice(1)) expect(o.score).toBeLessThan(ranked[0]!.score);
      // The two dc1/AHU-1 are kept apart by their fleet site.
      expect(ranked.map((o) => `${o.site} ${o.asset}`).sort()).toEqual([
        'site-a/dc1 AHU-1', 'site-a/dc1 AHU-2', 'site-b/dc1 AHU-1', 'site-b/dc2 AHU-7',
      ]);
      expect(ranked.every((o) => o.points.length === 2)).toBe(true);
    });

    it('compares only assets of the profile asked for', async () => {
      const chillers = await view.peers('chiller');
      expect(chillers.map((o) => o.asset).sort()).toEqual(['CH-1', 'CH-2', 'CH-3']);
      expect(chillers[0]).toMatchObject({ site: 'site-b/dc1', asset: 'CH-3' });
      expect((await view.peers('ahu')).some((o) => o.asset.startsWith('CH-'))).toBe(false);
      expect(await view.peers('pump')).toEqual([]);
    });
  });

  it('stops applying after stop()', async () => {
    await view.stop();
    await publish(rec('site-a', 'assets', 'late', { profile: 'ahu' }));
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(view.stats()).toEqual({ applied: 0, stale: 0 });
    expect(await view.records('assets')).toEqual([]);
  });
});
