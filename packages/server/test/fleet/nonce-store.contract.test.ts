import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { Rollback, T0, deviceId, fleetStoreFixture, type FleetStoreFixture } from './fleet-store-fixture.ts';

const A = deviceId(0xa);
const B = deviceId(0xb);
const TTL = 60_000;
const issued = (nonce: string, device = A, expiresAt = T0 + TTL) => ({ nonce, deviceId: device, expiresAt });

describe.each(SQL_ENGINES)('NonceStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => { f = await fleetStoreFixture(engine, 'nonces'); });
  afterEach(async () => { await f.destroy(); });

  it('accepts a nonce once, for the device it was issued to, up to and including its expiry', async () => {
    await f.stores.nonces.issue(issued('n1'), 4);
    await f.stores.nonces.issue(issued('n2'), 4);
    expect(await f.stores.nonces.consume('n1', B, T0)).toBe('nonce_unknown');
    expect(await f.stores.nonces.consume('n1', A, T0 + TTL)).toBe('ok');
    expect(await f.stores.nonces.consume('n1', A, T0 + 1)).toBe('nonce_replayed');
    expect(await f.stores.nonces.consume('never', A, T0)).toBe('nonce_unknown');
    expect(await f.stores.nonces.consume('n2', A, T0 + TTL + 1)).toBe('nonce_expired');
    expect(await f.stores.nonces.consume('n2', A, T0 + TTL + 2)).toBe('nonce_expired');
  });

  it("keeps at most `maxOutstanding` unused nonces per device, dropping only that device's oldest", async () => {
    await f.stores.nonces.issue(issued('other', B), 2);
    await f.stores.nonces.issue(issued('used'), 2);
    expect(await f.stores.nonces.consume('used', A, T0)).toBe('ok');
    for (const n of ['n1', 'n2', 'n3']) await f.stores.nonces.issue(issued(n), 2);
    expect(await f.stores.nonces.consume('n1', A, T0)).toBe('nonce_unknown');
    expect(await f.stores.nonces.consume('n2', A, T0)).toBe('ok');
    expect(await f.stores.nonces.consume('n3', A, T0)).toBe('ok');
    // Used nonces are not outstanding and are not dropped: a replay is still recognised.
    expect(await f.stores.nonces.consume('used', A, T0)).toBe('nonce_replayed');
    expect(await f.stores.nonces.consume('other', B, T0)).toBe('ok');
  });

  it('forgets nonces that expired before a cutoff, used or not', async () => {
    await f.stores.nonces.issue(issued('old', A, T0), 4);
    await f.stores.nonces.issue(issued('used', A, T0 + 1), 4);
    await f.stores.nonces.issue(issued('fresh', A, T0 + TTL), 4);
    expect(await f.stores.nonces.consume('used', A, T0)).toBe('ok');
    expect(await f.stores.nonces.forgetExpiredBefore(T0 + 2)).toBe(2);
    expect(await f.stores.nonces.consume('used', A, T0)).toBe('nonce_unknown');
    expect(await f.stores.nonces.consume('fresh', A, T0)).toBe('ok');
  });

  it('accepts a nonce exactly once when replicas consume it at the same time', async () => {
    await f.stores.nonces.issue(issued('n1'), 4);
    const replicas = [f.stores, f.replica().stores, f.replica().stores];
    const results = await Promise.all(replicas.flatMap((s) => [s.nonces.consume('n1', A, T0), s.nonces.consume('n1', A, T0)]));
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r === 'nonce_replayed')).toHaveLength(5);
  });

  it('leaves nothing behind when its unit of work rolls back', async () => {
    await f.stores.nonces.issue(issued('n1'), 4);
    await expect(f.uow.run(async (tx) => {
      await tx.nonces.issue(issued('n2'), 4);
      expect(await tx.nonces.consume('n1', A, T0)).toBe('ok');
      throw new Rollback();
    })).rejects.toBeInstanceOf(Rollback);
    expect(await f.stores.nonces.consume('n2', A, T0)).toBe('nonce_unknown');
    expect(await f.stores.nonces.consume('n1', A, T0)).toBe('ok');
  });
});
