import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { Rollback, T0, fleetStoreFixture, groupRecord, type FleetStoreFixture } from './fleet-store-fixture.ts';

describe.each(SQL_ENGINES)('GroupStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => { f = await fleetStoreFixture(engine, 'groups'); });
  afterEach(async () => { await f.destroy(); });

  it('creates a group and reads it back', async () => {
    expect(await f.stores.groups.get('g1')).toBeUndefined();
    const defined = await f.stores.groups.define(groupRecord('g1'));
    expect(defined).toEqual({ outcome: 'created', group: groupRecord('g1') });
    expect(await f.stores.groups.get('g1')).toEqual(groupRecord('g1'));
  });

  it('changes the minimum secure version of a group in the same site, saying what it was', async () => {
    await f.stores.groups.define(groupRecord('g1'));
    const next = { ...groupRecord('g1', 'dc1', '1.2.0', T0 + 1000), updatedBy: 'token:eng' };
    expect(await f.stores.groups.define(next)).toEqual({ outcome: 'updated', group: next, previous: groupRecord('g1') });
    expect(await f.stores.groups.get('g1')).toEqual(next);
  });

  it('refuses to move a group to another site and changes nothing', async () => {
    await f.stores.groups.define(groupRecord('g1'));
    expect(await f.stores.groups.define(groupRecord('g1', 'dc2', '9.0.0', T0 + 1))).toEqual({ outcome: 'site_mismatch', existing: groupRecord('g1') });
    expect(await f.stores.groups.get('g1')).toEqual(groupRecord('g1'));
  });

  it('lists groups by id in code-unit order on every engine', async () => {
    for (const id of ['ab', 'a.b', 'B', 'a-b', 'Z:1']) await f.stores.groups.define(groupRecord(id));
    expect((await f.stores.groups.list()).map((g) => g.id)).toEqual(['B', 'Z:1', 'a-b', 'a.b', 'ab']);
  });

  it('leaves nothing behind when its unit of work rolls back', async () => {
    await f.stores.groups.define(groupRecord('kept'));
    await expect(f.uow.run(async (tx) => {
      await tx.groups.define(groupRecord('g1'));
      await tx.groups.define(groupRecord('kept', 'dc1', '2.0.0'));
      throw new Rollback();
    })).rejects.toBeInstanceOf(Rollback);
    expect(await f.stores.groups.get('g1')).toBeUndefined();
    expect((await f.stores.groups.get('kept'))?.minSecureVersion).toBe('1.0.0');
  });

  it('serialises concurrent definitions of one group from two replicas: each sees the other\'s as previous', async () => {
    await f.stores.groups.define(groupRecord('g1'));
    const other = f.replica();
    const [a, b] = await Promise.all([
      f.stores.groups.define(groupRecord('g1', 'dc1', '1.1.0', T0 + 1)),
      other.stores.groups.define(groupRecord('g1', 'dc1', '1.2.0', T0 + 2)),
    ]);
    const previous = [a, b].map((d) => (d.outcome === 'updated' ? d.previous.minSecureVersion : d.outcome)).sort();
    // One of them ran first and saw 1.0.0; the other saw the first one's version.
    expect(previous[0]).toBe('1.0.0');
    expect(['1.1.0', '1.2.0']).toContain(previous[1]);
  });
});
