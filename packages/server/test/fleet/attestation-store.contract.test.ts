import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttestationRecord } from '../../src/fleet/index.ts';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { Rollback, T0, deviceId, fleetStoreFixture, type FleetStoreFixture } from './fleet-store-fixture.ts';

const A = deviceId(0xa);
const B = deviceId(0xb);
const measurements = [{ component: 'runtime', digest: 'a'.repeat(64) }];
const pass = (at: number): AttestationRecord => ({
  deviceId: A, at, result: 'pass', authentic: true, swversion: '1.1.0', measurements, certSerial: '1f', certNotAfter: at + 86_400_000,
});
const refused = (at: number): AttestationRecord => ({ deviceId: A, at, result: 'fail', reason: 'signature_invalid', authentic: false });

describe.each(SQL_ENGINES)('AttestationStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => { f = await fleetStoreFixture(engine, 'attestations'); });
  afterEach(async () => { await f.destroy(); });

  it('keeps every field of a pass and of a refusal, and lists a device\'s newest first', async () => {
    await f.stores.attestations.record(pass(T0));
    await f.stores.attestations.record(refused(T0 + 1));
    await f.stores.attestations.record({ ...pass(T0 + 2), deviceId: B });
    expect(await f.stores.attestations.list(A, 10)).toEqual([refused(T0 + 1), pass(T0)]);
    expect(await f.stores.attestations.list(B, 10)).toHaveLength(1);
    expect(await f.stores.attestations.list(deviceId(0xc), 10)).toEqual([]);
  });

  it('orders by recording, not by the time claimed, and honours the limit', async () => {
    for (const at of [T0 + 5, T0 + 1, T0 + 9]) await f.stores.attestations.record(pass(at));
    expect((await f.stores.attestations.list(A, 2)).map((a) => a.at)).toEqual([T0 + 9, T0 + 1]);
  });

  it('leaves nothing behind when its unit of work rolls back', async () => {
    await expect(f.uow.run(async (tx) => {
      await tx.attestations.record(pass(T0));
      throw new Rollback();
    })).rejects.toBeInstanceOf(Rollback);
    expect(await f.stores.attestations.list(A, 10)).toEqual([]);
  });
});
