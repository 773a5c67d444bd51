import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReleaseRecord } from '../../src/fleet/index.ts';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { Rollback, T0, fleetStoreFixture, groupRecord, type FleetStoreFixture } from './fleet-store-fixture.ts';

const hex = (c: string) => c.repeat(64);
const release = (swversion: string, at = T0, components = [{ component: 'runtime', digest: hex('a') }]): ReleaseRecord => ({
  group: 'g1', swname: 'shellguard-guardian', swversion, components, registeredBy: 'token:admin', registeredAt: at,
});

describe.each(SQL_ENGINES)('ReleaseStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => {
    f = await fleetStoreFixture(engine, 'releases');
    await f.stores.groups.define(groupRecord('g1'));
    await f.stores.groups.define(groupRecord('g2'));
  });
  afterEach(async () => { await f.destroy(); });

  it('inserts a release once per group and version, components intact', async () => {
    const r = release('1.0.0', T0, [{ component: 'runtime', digest: hex('a') }, { component: 'config', digest: hex('b') }, { component: 'config', digest: hex('c') }]);
    expect(await f.stores.releases.insert(r)).toBe(true);
    expect(await f.stores.releases.insert({ ...r, swname: 'other' })).toBe(false);
    expect(await f.stores.releases.get('g1', '1.0.0')).toEqual(r);
    expect(await f.stores.releases.get('g1', '2.0.0')).toBeUndefined();
    expect(await f.stores.releases.get('g2', '1.0.0')).toBeUndefined();
  });

  it('lists a group\'s releases oldest registration first, and only that group\'s', async () => {
    await f.stores.releases.insert(release('1.10.0', T0 + 2));
    await f.stores.releases.insert(release('1.2.0', T0 + 1));
    await f.stores.releases.insert({ ...release('9.9.9'), group: 'g2' });
    expect((await f.stores.releases.list('g1')).map((r) => r.swversion)).toEqual(['1.2.0', '1.10.0']);
    expect(await f.stores.releases.list('nope')).toEqual([]);
  });

  it('replaces a release\'s components', async () => {
    await f.stores.releases.insert(release('1.0.0'));
    const more = [{ component: 'runtime', digest: hex('a') }, { component: 'config', digest: hex('d') }];
    await f.stores.releases.replaceComponents('g1', '1.0.0', more);
    expect((await f.stores.releases.get('g1', '1.0.0'))?.components).toEqual(more);
  });

  it('moves the group\'s revision on every change, and only then', async () => {
    expect(await f.stores.releases.revision('g1')).toBe(0);
    expect(await f.stores.releases.revision('nope')).toBe(0);
    await f.stores.releases.insert(release('1.0.0'));
    const r1 = await f.stores.releases.revision('g1');
    expect(r1).toBeGreaterThan(0);
    await f.stores.releases.insert(release('1.0.0'));
    expect(await f.stores.releases.revision('g1')).toBe(r1);
    await f.stores.releases.replaceComponents('g1', '1.0.0', [{ component: 'runtime', digest: hex('e') }]);
    const r2 = await f.stores.releases.revision('g1');
    expect(r2).toBeGreaterThan(r1);
    expect(await f.stores.releases.revision('g2')).toBe(0);
    // Redefining the group keeps its revision.
    await f.stores.groups.define(groupRecord('g1', 'dc1', '2.0.0'));
    expect(await f.stores.releases.revision('g1')).toBe(r2);
  });

  it('leaves nothing behind when its unit of work rolls back, revision included', async () => {
    await f.stores.releases.insert(release('1.0.0'));
    const before = await f.stores.releases.revision('g1');
    await expect(f.uow.run(async (tx) => {
      await tx.releases.insert(release('2.0.0'));
      await tx.releases.replaceComponents('g1', '1.0.0', [{ component: 'runtime', digest: hex('f') }]);
      throw new Rollback();
    })).rejects.toBeInstanceOf(Rollback);
    expect((await f.stores.releases.list('g1')).map((r) => r.swversion)).toEqual(['1.0.0']);
    expect((await f.stores.releases.get('g1', '1.0.0'))?.components).toEqual(release('1.0.0').components);
    expect(await f.stores.releases.revision('g1')).toBe(before);
  });

  it('holds the group\'s releases for a unit of work that locked them: another replica\'s lock waits', async () => {
    await f.stores.releases.insert(release('1.0.0'));
    const other = f.replica();
    const order: string[] = [];
    let second: Promise<void> | undefined;
    await f.uow.run(async (tx) => {
      await tx.releases.lockGroup('g1');
      second = other.uow.run(async (tx2) => {
        await tx2.releases.lockGroup('g1');
        order.push('second locked');
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push('first commits');
    });
    await second;
    expect(order).toEqual(['first commits', 'second locked']);
  });
});
