import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { Rollback, T0, deviceId, fleetStoreFixture, type FleetStoreFixture } from './fleet-store-fixture.ts';

const A = deviceId(0xa);
const B = deviceId(0xb);
const DAY = 86_400_000;
const cert = (serial: string, device = A, notAfter = T0 + DAY) => ({ serial, deviceId: device, issuedAt: T0, notAfter });

describe.each(SQL_ENGINES)('CertificateStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => { f = await fleetStoreFixture(engine, 'certificates'); });
  afterEach(async () => { await f.destroy(); });

  it('records a certificate unrevoked and finds it by serial', async () => {
    await f.stores.certificates.record(cert('1a'));
    expect(await f.stores.certificates.get('1a')).toEqual(cert('1a'));
    expect(await f.stores.certificates.get('1b')).toBeUndefined();
    await expect(f.stores.certificates.record(cert('1a', B))).rejects.toThrow();
  });

  it('revokes a certificate once', async () => {
    await f.stores.certificates.record(cert('1a'));
    expect(await f.stores.certificates.revoke('1a', T0 + 5)).toBe(true);
    expect(await f.stores.certificates.revoke('1a', T0 + 9)).toBe(false);
    expect(await f.stores.certificates.revoke('ff', T0 + 9)).toBe(false);
    expect(await f.stores.certificates.get('1a')).toEqual({ ...cert('1a'), revokedAt: T0 + 5 });
  });

  it('revokes every unrevoked certificate of one device and says how many', async () => {
    for (const s of ['01', '02', '03']) await f.stores.certificates.record(cert(s));
    await f.stores.certificates.record(cert('04', B));
    await f.stores.certificates.revoke('01', T0 + 1);
    expect(await f.stores.certificates.revokeAllOf(A, T0 + 2)).toBe(2);
    expect(await f.stores.certificates.revokeAllOf(A, T0 + 3)).toBe(0);
    expect((await f.stores.certificates.get('01'))?.revokedAt).toBe(T0 + 1);
    expect((await f.stores.certificates.get('04'))?.revokedAt).toBeUndefined();
  });

  it('lists revoked certificates that have not expired, by serial, for the CRL', async () => {
    await f.stores.certificates.record(cert('0b'));
    await f.stores.certificates.record(cert('0a', B));
    await f.stores.certificates.record(cert('0c', A, T0 + 10));
    await f.stores.certificates.record(cert('0d'));
    for (const s of ['0b', '0a', '0c']) await f.stores.certificates.revoke(s, T0 + 1);
    expect(await f.stores.certificates.revokedUnexpired(T0 + 10)).toEqual([{ serial: '0a', revokedAt: T0 + 1 }, { serial: '0b', revokedAt: T0 + 1 }]);
  });

  it('leaves nothing behind when its unit of work rolls back', async () => {
    await f.stores.certificates.record(cert('01'));
    await expect(f.uow.run(async (tx) => {
      await tx.certificates.record(cert('02'));
      await tx.certificates.revokeAllOf(A, T0 + 1);
      throw new Rollback();
    })).rejects.toBeInstanceOf(Rollback);
    expect(await f.stores.certificates.get('02')).toBeUndefined();
    expect((await f.stores.certificates.get('01'))?.revokedAt).toBeUndefined();
  });
});
