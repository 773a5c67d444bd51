import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredReport } from '../../src/fleet/index.ts';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { Rollback, T0, deviceId, fleetStoreFixture, type FleetStoreFixture } from './fleet-store-fixture.ts';

const A = deviceId(0xa);
const B = deviceId(0xb);
const report = (n: number, device = A): StoredReport => ({
  deviceId: device, receivedAt: T0 + n, at: T0 - n, kind: n % 2 === 0 ? 'error' : 'crash', message: `report ${n}`, detail: `detail ${n}`,
});

describe.each(SQL_ENGINES)('ReportStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => { f = await fleetStoreFixture(engine, 'reports'); });
  afterEach(async () => { await f.destroy(); });

  it('keeps reports as given and lists a device\'s newest first', async () => {
    for (const n of [1, 2, 3]) await f.stores.reports.append(report(n), 10);
    await f.stores.reports.append(report(4, B), 10);
    expect(await f.stores.reports.list(A)).toEqual([report(3), report(2), report(1)]);
    expect(await f.stores.reports.list(deviceId(0xc))).toEqual([]);
  });

  it('keeps only the newest `keep` of a device, and leaves other devices alone', async () => {
    for (let n = 0; n < 3; n++) await f.stores.reports.append(report(n, B), 3);
    for (let n = 0; n < 8; n++) await f.stores.reports.append(report(n), 3);
    expect((await f.stores.reports.list(A)).map((r) => r.message)).toEqual(['report 7', 'report 6', 'report 5']);
    expect(await f.stores.reports.list(B)).toHaveLength(3);
  });

  it('leaves nothing behind when its unit of work rolls back', async () => {
    await f.stores.reports.append(report(1), 1);
    await expect(f.uow.run(async (tx) => {
      await tx.reports.append(report(2), 1);
      throw new Rollback();
    })).rejects.toBeInstanceOf(Rollback);
    expect(await f.stores.reports.list(A)).toEqual([report(1)]);
  });
});
