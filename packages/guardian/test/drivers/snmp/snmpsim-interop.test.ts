/**
 * The SNMP driver against an independent agent: snmpsim (pysnmp) serving recorded data authored
 * from the MIBs (test/fixtures/snmpsim/README.md), over v2c and v3 authPriv with HMAC-SHA-512 and
 * AES-256 (the strongest pair snmpsim 0.4.5 offers). Every stored value must equal the value in the
 * .snmprec file converted by the profile's scale; the driver contract runs here too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Quality, profileOfProtocol, systemClock, type SnmpProfile } from '@shellguard/protocol';
import { loadProfiles } from '../../../../sim/src/site/profile-catalog.ts';
import { SnmpDriver } from '../../../src/drivers/snmp/snmp-driver.ts';
import { pointsOfSet } from '../../../src/drivers/driver.ts';
import { describeDriverContract } from '../contract/driver-contract.ts';
import { FIXTURES, expectedValue, hasSnmpsim, readSnmprec, startSnmpsim, type SnmpsimDevice } from './snmpsim-device.ts';

const logger = pino({ level: 'silent' });
const profiles = loadProfiles();
const profile = (id: string): SnmpProfile => profileOfProtocol(profiles.get(id)!, 'snmp');

const CASES = [
  { fixture: 'ups.snmprec', profile: 'ups-rfc1628' },
  { fixture: 'pdu.snmprec', profile: 'pdu-apc-rpdu2' },
  { fixture: 'pdu-raritan-px2.snmprec', profile: 'pdu-raritan-px2' },
] as const;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe.skipIf(!hasSnmpsim)('SnmpDriver against snmpsim', () => {
  for (const c of CASES) {
    for (const version of ['2c', '3'] as const) {
      it(`stores every value of ${c.fixture} through ${c.profile}, scaled, over ${version === '2c' ? 'v2c' : 'v3 authPriv SHA-512/AES-256'}`, async () => {
        const p = profile(c.profile);
        const device: SnmpsimDevice = await startSnmpsim(c.fixture, p, version);
        cleanups.push(() => device.close());
        const driver = new SnmpDriver({ equipment: device.equipment, profile: p, clock: systemClock, logger, onSamples: () => undefined, services: {} });
        cleanups.push(() => driver.close());

        const { samples, errors } = await driver.read('all');
        expect(errors).toEqual([]);
        const polled = pointsOfSet(p.points, 'all');
        expect(samples.map((s) => s.point)).toEqual(polled.map((x) => x.name));
        for (const point of polled) {
          const sample = samples.find((s) => s.point === point.name)!;
          const want = expectedValue(point, device.records);
          expect(sample.quality, point.name).toBe(Quality.good);
          if (typeof want === 'number') expect(sample.value as number, `${point.name} (${point.oid})`).toBeCloseTo(want, 9);
          else expect(sample.value, `${point.name} (${point.oid})`).toBe(want);
        }
        expect(device.writesReceived()).toBe(0);
      });
    }
  }

  it('uses the scales the recorded Raritan unit reports as decimal digits (PDU2-MIB inletSensorDecimalDigits)', () => {
    const p = profile('pdu-raritan-px2');
    const records = readSnmprec(`${FIXTURES}/pdu-raritan-px2.snmprec`);
    const DECIMAL_DIGITS = { inlet: '1.3.6.1.4.1.13742.6.3.3.4.1.7', pole: '1.3.6.1.4.1.13742.6.3.3.6.1.7' };
    const INLET_VALUE = '1.3.6.1.4.1.13742.6.5.2.3.1.4.';
    const POLE_VALUE = '1.3.6.1.4.1.13742.6.5.2.4.1.4.';
    let checked = 0;
    for (const point of p.points) {
      const oid = point.oid!;
      const column = oid.startsWith(INLET_VALUE) ? DECIMAL_DIGITS.inlet : oid.startsWith(POLE_VALUE) ? DECIMAL_DIGITS.pole : undefined;
      if (!column) continue;
      // Same row (pduId.inletId[.pole].sensorType) in the configuration table.
      const row = oid.slice((oid.startsWith(INLET_VALUE) ? INLET_VALUE : POLE_VALUE).length);
      const digits = Number(records.get(`${column}.${row}`)?.value);
      expect(Number.isInteger(digits), `decimal digits of ${point.name}`).toBe(true);
      // The MIB's W and Wh become kW and kWh.
      const unitFactor = point.unit === 'kW' || point.unit === 'kWh' ? 1e-3 : 1;
      expect(point.scale, point.name).toBeCloseTo(10 ** -digits * unitFactor, 12);
      checked++;
    }
    expect(checked).toBe(10);
  });
});

if (hasSnmpsim) {
  const makeDriver = (ctx: Parameters<typeof describeDriverContract>[1]['makeDriver'] extends (c: infer C) => unknown ? C : never) =>
    new SnmpDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'snmp') });
  describeDriverContract('snmp v2c (snmpsim, ups.snmprec)', { startDevice: () => startSnmpsim('ups.snmprec', profile('ups-rfc1628'), '2c'), makeDriver });
  describeDriverContract('snmp v3 authPriv SHA-512/AES-256 (snmpsim, pdu-raritan-px2.snmprec)', { startDevice: () => startSnmpsim('pdu-raritan-px2.snmprec', profile('pdu-raritan-px2'), '3'), makeDriver });
}
