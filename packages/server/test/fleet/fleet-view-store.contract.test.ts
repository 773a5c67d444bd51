import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { T0, claimRecord, deviceId, fleetStoreFixture, groupRecord, type FleetStoreFixture } from './fleet-store-fixture.ts';

const A = deviceId(0xa);
const B = deviceId(0xb);
const C = deviceId(0xc);
const measurements = [{ component: 'runtime', digest: 'a'.repeat(64) }];

describe.each(SQL_ENGINES)('FleetViewStore contract (%s)', (engine) => {
  let f: FleetStoreFixture;
  beforeEach(async () => {
    f = await fleetStoreFixture(engine, 'fleet_view');
    await f.stores.groups.define(groupRecord('g1'));
    await f.stores.groups.define(groupRecord('G2', 'dc1'));
    await f.stores.groups.define(groupRecord('g3', 'Dc0'));
  });
  afterEach(async () => { await f.destroy(); });

  it('shows a claimed device that never attested with its standing only', async () => {
    await f.stores.claims.insert(claimRecord(A));
    expect(await f.stores.view.devices()).toEqual([{ deviceId: A, site: 'dc1', group: 'g1', state: 'claimed', stateChangedAt: T0, reportCount: 0 }]);
  });

  it('shows the newest authentic appraisal, the newest unrevoked certificate and the report count', async () => {
    await f.stores.claims.insert(claimRecord(A));
    await f.stores.claims.changeState(A, { to: 'quarantined', from: ['claimed'], reason: 'measurements_mismatch', by: 'system', at: T0 + 9 });
    await f.stores.attestations.record({ deviceId: A, at: T0 + 1, result: 'pass', authentic: true, swversion: '1.0.0', measurements });
    await f.stores.attestations.record({ deviceId: A, at: T0 + 2, result: 'fail', reason: 'measurements_mismatch', authentic: true, swversion: '1.1.0', measurements });
    // A forgery (anyone's to send) is not the device's last attestation.
    await f.stores.attestations.record({ deviceId: A, at: T0 + 3, result: 'fail', reason: 'signature_invalid', authentic: false });
    await f.stores.certificates.record({ serial: '01', deviceId: A, issuedAt: T0, notAfter: T0 + 100 });
    await f.stores.certificates.record({ serial: '02', deviceId: A, issuedAt: T0, notAfter: T0 + 300 });
    await f.stores.certificates.revoke('02', T0 + 5);
    await f.stores.certificates.record({ serial: '03', deviceId: B, issuedAt: T0, notAfter: T0 + 999 });
    for (let n = 0; n < 3; n++) await f.stores.reports.append({ deviceId: A, receivedAt: T0, at: T0, kind: 'error', message: 'm', detail: 'd' }, 10);
    const [a] = await f.stores.view.devices();
    expect(a).toEqual({
      deviceId: A, site: 'dc1', group: 'g1', state: 'quarantined', stateReason: 'measurements_mismatch', stateChangedAt: T0 + 9,
      lastAttestation: { at: T0 + 2, result: 'fail', reason: 'measurements_mismatch' }, swversion: '1.1.0', measurements,
      certificateNotAfter: T0 + 100, reportCount: 3,
    });
  });

  it('lists devices by site, group and id in code-unit order on every engine', async () => {
    await f.stores.claims.insert(claimRecord(C, 'g1'));
    await f.stores.claims.insert(claimRecord(B, 'g1'));
    await f.stores.claims.insert(claimRecord(A, 'G2'));
    await f.stores.claims.insert(claimRecord(deviceId(0xd), 'g3', 'Dc0'));
    expect((await f.stores.view.devices()).map((d) => `${d.site}/${d.group}/${d.deviceId.slice(-1)}`)).toEqual(['Dc0/g3/d', 'dc1/G2/a', 'dc1/g1/b', 'dc1/g1/c']);
  });
});
