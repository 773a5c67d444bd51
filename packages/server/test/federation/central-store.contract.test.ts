/**
 * The CentralStore contract (central-store.ts), run on every engine: the centre keeps the newest
 * version of each site's record whatever order copies arrive in, removals stay as tombstones, and
 * reads filter and sort the same way on SQLite and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQL_ENGINES, createTestDatabase, migrateServerDatabase, type TestDatabase } from '../../src/testing/index.ts';
import type { FleetKind, FleetRecord } from '../../src/federation/fleet-record.ts';
import { SqlCentralStore } from '../../src/federation/sql-central-store.ts';

const T0 = 1_750_000_000_000;
const RECEIVED = T0 + 60_000;

function record(site: string, kind: FleetKind, key: string, version: number, body: Record<string, unknown> = { v: version }): FleetRecord {
  return { site, kind, key, version, body };
}

function removal(site: string, kind: FleetKind, key: string, version: number): FleetRecord {
  return { site, kind, key, version, removed: true };
}

describe.each(SQL_ENGINES)('CentralStore contract (%s)', (engine) => {
  let t: TestDatabase;
  let store: SqlCentralStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'central');
    await migrateServerDatabase(t.database);
    store = new SqlCentralStore(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });

  it('holds nothing at first', async () => {
    expect(await store.records('assets')).toEqual([]);
    expect(await store.sites()).toEqual([]);
  });

  it('keeps a record with its body, version and when it was received', async () => {
    const body = { name: 'Air handler 1', profile: 'ahu', area: null, tags: ['north', 'roof'], limits: { h: 30.5 } };
    expect(await store.apply(record('a', 'assets', 'dc1/AHU-1', T0, body), RECEIVED)).toBe(true);
    expect(await store.records('assets')).toEqual([
      { site: 'a', kind: 'assets', key: 'dc1/AHU-1', version: T0, body, receivedAt: RECEIVED },
    ]);
  });

  it('keeps the newest version: a newer one replaces it, an older or equal one is refused', async () => {
    expect(await store.apply(record('a', 'alarms', 'x', T0 + 10, { state: 'unack-active' }), RECEIVED)).toBe(true);
    expect(await store.apply(record('a', 'alarms', 'x', T0 + 20, { state: 'ack-active' }), RECEIVED + 1)).toBe(true);
    // Late copies of older states, and a second copy of the same version with another body.
    expect(await store.apply(record('a', 'alarms', 'x', T0 + 10, { state: 'unack-active' }), RECEIVED + 2)).toBe(false);
    expect(await store.apply(record('a', 'alarms', 'x', T0, { state: 'normal' }), RECEIVED + 3)).toBe(false);
    expect(await store.apply(record('a', 'alarms', 'x', T0 + 20, { state: 'normal' }), RECEIVED + 4)).toBe(false);

    expect(await store.records('alarms')).toEqual([
      { site: 'a', kind: 'alarms', key: 'x', version: T0 + 20, body: { state: 'ack-active' }, receivedAt: RECEIVED + 1 },
    ]);
  });

  it('keeps the newest whatever order the copies arrive in', async () => {
    for (const v of [3, 1, 5, 2, 4]) await store.apply(record('a', 'points', 'p', T0 + v), RECEIVED + v);
    const [only] = await store.records('points');
    expect(only).toMatchObject({ version: T0 + 5, body: { v: T0 + 5 }, receivedAt: RECEIVED + 5 });
  });

  it('keeps the same key apart per site and per kind', async () => {
    await store.apply(record('a', 'devices', 'k', T0 + 5), RECEIVED);
    // Older than a's, but a's is another site's record: applied.
    expect(await store.apply(record('b', 'devices', 'k', T0), RECEIVED)).toBe(true);
    expect(await store.apply(record('a', 'incidents', 'k', T0), RECEIVED)).toBe(true);
    expect((await store.records('devices')).map((r) => [r.site, r.version])).toEqual([['a', T0 + 5], ['b', T0]]);
    expect(await store.records('incidents')).toHaveLength(1);
  });

  it('hides a removed record, and an older upsert afterwards cannot bring it back', async () => {
    await store.apply(record('a', 'assets', 'gone', T0), RECEIVED);
    await store.apply(record('a', 'assets', 'kept', T0), RECEIVED);
    expect(await store.apply(removal('a', 'assets', 'gone', T0 + 10), RECEIVED + 10)).toBe(true);
    expect((await store.records('assets')).map((r) => r.key)).toEqual(['kept']);

    // A copy of the record from before the removal, delayed: refused, still hidden.
    expect(await store.apply(record('a', 'assets', 'gone', T0 + 5), RECEIVED + 20)).toBe(false);
    expect(await store.apply(record('a', 'assets', 'gone', T0 + 10), RECEIVED + 20)).toBe(false);
    expect((await store.records('assets')).map((r) => r.key)).toEqual(['kept']);
    expect((await store.records('assets', 'a')).map((r) => r.key)).toEqual(['kept']);
  });

  it('keeps a removal that arrives before the record it removes', async () => {
    expect(await store.apply(removal('a', 'incidents', '7', T0 + 10), RECEIVED)).toBe(true);
    expect(await store.apply(record('a', 'incidents', '7', T0), RECEIVED + 1)).toBe(false);
    expect(await store.records('incidents')).toEqual([]);
  });

  it('refuses an older or equal removal of a newer record', async () => {
    await store.apply(record('a', 'assets', 'x', T0 + 10), RECEIVED);
    expect(await store.apply(removal('a', 'assets', 'x', T0 + 5), RECEIVED)).toBe(false);
    expect(await store.apply(removal('a', 'assets', 'x', T0 + 10), RECEIVED)).toBe(false);
    expect(await store.records('assets')).toHaveLength(1);
  });

  it('shows a thing again when a newer record follows its removal (it came back at the site)', async () => {
    await store.apply(record('a', 'assets', 'x', T0, { n: 1 }), RECEIVED);
    await store.apply(removal('a', 'assets', 'x', T0 + 10), RECEIVED);
    expect(await store.apply(record('a', 'assets', 'x', T0 + 20, { n: 2 }), RECEIVED + 1)).toBe(true);
    expect(await store.records('assets')).toEqual([{ site: 'a', kind: 'assets', key: 'x', version: T0 + 20, body: { n: 2 }, receivedAt: RECEIVED + 1 }]);
  });

  it('filters records by kind and site, sorted by site then key in byte order on every engine', async () => {
    const keys = ['dc1/AHU-2', 'dc1/AHU-10', 'B', 'a', 'dc1/ahu-3'];
    for (const site of ['site-b', 'site-a', 'c']) {
      for (const key of keys) await store.apply(record(site, 'assets', key, T0), RECEIVED);
    }
    await store.apply(record('site-a', 'alarms', 'x', T0), RECEIVED);
    await store.apply(removal('site-a', 'assets', 'a', T0 + 1), RECEIVED);

    const byteOrder = [...keys].sort();
    expect(byteOrder).toEqual(['B', 'a', 'dc1/AHU-10', 'dc1/AHU-2', 'dc1/ahu-3']);
    expect((await store.records('assets')).map((r) => `${r.site} ${r.key}`)).toEqual([
      ...byteOrder.map((k) => `c ${k}`),
      ...byteOrder.filter((k) => k !== 'a').map((k) => `site-a ${k}`),
      ...byteOrder.map((k) => `site-b ${k}`),
    ]);
    expect((await store.records('assets', 'site-b')).map((r) => r.key)).toEqual(byteOrder);
    expect((await store.records('assets', 'site-b')).every((r) => r.site === 'site-b' && r.kind === 'assets')).toBe(true);
    expect((await store.records('alarms', 'site-a')).map((r) => r.key)).toEqual(['x']);
    expect(await store.records('alarms', 'site-b')).toEqual([]);
    expect(await store.records('alarms', 'nowhere')).toEqual([]);
    expect(await store.records('devices')).toEqual([]);
  });

  it('summarises each site: when it last sent, and its records per kind without the removed ones', async () => {
    await store.apply(record('b', 'assets', 'a1', T0), T0 + 1_000);
    await store.apply(record('b', 'assets', 'a2', T0), T0 + 2_000);
    await store.apply(record('b', 'alarms', 'x', T0), T0 + 3_000);
    await store.apply(record('b', 'alarms', 'y', T0), T0 + 3_500);
    await store.apply(removal('b', 'alarms', 'y', T0 + 1), T0 + 4_000);
    await store.apply(record('a', 'points', 'p', T0), T0 + 500);
    // Everything of site c was removed: it still sent, but holds nothing.
    await store.apply(record('c', 'devices', 'd', T0), T0 + 100);
    await store.apply(removal('c', 'devices', 'd', T0 + 1), T0 + 200);

    expect(await store.sites()).toEqual([
      { site: 'a', lastReceivedAt: T0 + 500, counts: { points: 1 } },
      { site: 'b', lastReceivedAt: T0 + 4_000, counts: { assets: 2, alarms: 1 } },
      { site: 'c', lastReceivedAt: T0 + 200, counts: {} },
    ]);
  });
});
