import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { Rollback, T0, claimRecord, deviceId, fleetStoreFixture, groupRecord, type FleetStoreFixture } from './fleet-store-fixture.ts';

const A = deviceId(0xa);
const B = deviceId(0xb);

describe.each(SQL_ENGINES)('ClaimStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => {
    f = await fleetStoreFixture(engine, 'claims');
    await f.stores.groups.define(groupRecord('g1'));
  });
  afterEach(async () => { await f.destroy(); });

  it('inserts a claim once and reads it back', async () => {
    expect(await f.stores.claims.get(A)).toBeUndefined();
    expect(await f.stores.claims.insert(claimRecord(A))).toBe(true);
    expect(await f.stores.claims.get(A)).toEqual(claimRecord(A));
    expect(await f.stores.claims.getForUpdate(A)).toEqual(claimRecord(A));
    expect(await f.stores.claims.insert({ ...claimRecord(A), claimedBy: 'token:other' })).toBe(false);
    expect(await f.stores.claims.get(A)).toEqual(claimRecord(A));
  });

  it('refuses a claim into a group that does not exist', async () => {
    await expect(f.stores.claims.insert(claimRecord(A, 'nope'))).rejects.toThrow();
    expect(await f.stores.claims.get(A)).toBeUndefined();
  });

  it('changes the state only from the states given, keeping or clearing the reason', async () => {
    await f.stores.claims.insert(claimRecord(A));
    const quarantined = await f.stores.claims.changeState(A, { to: 'quarantined', from: ['claimed'], reason: 'measurements_mismatch', by: 'system', at: T0 + 1 });
    expect(quarantined).toEqual({ ...claimRecord(A), state: 'quarantined', reason: 'measurements_mismatch', changedBy: 'system', changedAt: T0 + 1 });
    // Not from 'claimed' any more: nothing changes.
    expect(await f.stores.claims.changeState(A, { to: 'quarantined', from: ['claimed'], reason: 'other', by: 'system', at: T0 + 2 })).toBeUndefined();
    expect(await f.stores.claims.changeState(A, { to: 'revoked', from: [], by: 'x', at: T0 + 2 })).toBeUndefined();
    expect((await f.stores.claims.get(A))?.reason).toBe('measurements_mismatch');
    const released = await f.stores.claims.changeState(A, { to: 'claimed', from: ['quarantined'], by: 'token:eng', at: T0 + 3 });
    expect(released).toEqual({ ...claimRecord(A), changedBy: 'token:eng', changedAt: T0 + 3 });
    expect(await f.stores.claims.changeState(B, { to: 'revoked', from: ['claimed'], by: 'x', at: T0 })).toBeUndefined();
  });

  it('leaves nothing behind when its unit of work rolls back', async () => {
    await f.stores.claims.insert(claimRecord(B));
    await expect(f.uow.run(async (tx) => {
      await tx.claims.insert(claimRecord(A));
      await tx.claims.changeState(B, { to: 'revoked', from: ['claimed'], reason: 'x', by: 'x', at: T0 + 1 });
      throw new Rollback();
    })).rejects.toBeInstanceOf(Rollback);
    expect(await f.stores.claims.get(A)).toBeUndefined();
    expect((await f.stores.claims.get(B))?.state).toBe('claimed');
  });

  it('holds a claim read for update until the unit of work ends: another replica\'s change waits', async () => {
    await f.stores.claims.insert(claimRecord(A));
    const other = f.replica();
    let otherDone = false;
    let change: Promise<unknown> | undefined;
    await f.uow.run(async (tx) => {
      expect((await tx.claims.getForUpdate(A))?.state).toBe('claimed');
      change = other.stores.claims.changeState(A, { to: 'revoked', from: ['claimed'], reason: 'r', by: 'x', at: T0 + 5 })
        .finally(() => { otherDone = true; });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(otherDone).toBe(false);
      // What this unit of work decides on stays true until it commits.
      expect((await tx.claims.get(A))?.state).toBe('claimed');
    });
    expect(await change).toMatchObject({ state: 'revoked' });
  });
});
