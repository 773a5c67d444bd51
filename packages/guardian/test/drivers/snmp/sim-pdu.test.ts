/**
 * The two PDU MIBs of a mixed simulated site (layout.ts MIXED_PROFILE_FOR_TYPE: APC PowerNet-MIB
 * rPDU2 and Raritan PDU2-MIB), served by the simulator's SNMP agent from the PDU physics and read
 * by the driver over v3 authPriv: every point good and equal to the physics, a tripped breaker
 * read as open; the driver contract on the Raritan one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Quality, profileOfProtocol, systemClock, type SnmpProfile } from '@shellguard/protocol';
import { SiteModel } from '../../../../sim/src/physics/site-model.ts';
import { MIXED_PROFILE_FOR_TYPE } from '../../../../sim/src/site/layout.ts';
import { loadProfiles } from '../../../../sim/src/site/profile-catalog.ts';
import { startSnmpAgent, type SimulatedSnmpAgent } from '../../../../sim/src/snmp/snmp-agent.ts';
import type { EquipmentConfig } from '../../../src/config/config.ts';
import { SnmpDriver } from '../../../src/drivers/snmp/snmp-driver.ts';
import { pointsOfSet } from '../../../src/drivers/driver.ts';
import { describeDriverContract } from '../contract/driver-contract.ts';
import { V3_USER, snmpOptions, type SimDevice } from './sim-device.ts';

const logger = pino({ level: 'silent' });
const profiles = loadProfiles();
const PDU_PROFILES = MIXED_PROFILE_FOR_TYPE.pdu as readonly string[];

function pduModel(): SiteModel {
  const model = new SiteModel({ assets: [{ id: 'PDU-01', type: 'pdu' }], seed: 5, startMs: Date.now() });
  model.step(Date.now() + 2000);
  return model;
}

/** The simulator's agent for one PDU, serving `profile` from the physics (v3 authPriv). */
async function startSimPdu(profile: SnmpProfile, model = pduModel()): Promise<SimDevice> {
  let writes = 0;
  const values = () => model.values('PDU-01');
  const start = (port: number, engineID?: string) => startSnmpAgent({
    host: '127.0.0.1', port, profile, values, users: [V3_USER], onWrite: () => { writes++; }, ...(engineID ? { engineID } : {}),
  });
  let agent: SimulatedSnmpAgent | undefined = await start(0);
  const { port, engineID } = agent;
  const equipment: EquipmentConfig = {
    asset: 'PDU-01', name: 'PDU 1', area: 'a', profile: profile.id, host: '127.0.0.1', port, unitId: 1,
    pollIntervalMs: 1000, fastPollIntervalMs: 250, timeoutMs: 300, snmp: snmpOptions('3'),
  };
  return {
    equipment, profile, model,
    agent: () => agent!,
    served: () => values(),
    // Whole numbers on the wire: half a step of the point's scale.
    tolerance: (name) => Math.abs(profile.points.find((p) => p.name === name)!.scale) / 2 + 1e-9,
    stop: async () => { await agent?.close(); agent = undefined; },
    restart: async () => { agent = await start(port, engineID); },
    writesReceived: () => writes,
    close: async () => { await agent?.close(); },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('SnmpDriver on the simulated PDU MIBs', () => {
  it('a mixed site alternates the APC and Raritan PDU profiles, both SNMP PDU profiles', () => {
    expect(PDU_PROFILES).toEqual(['pdu-apc-rpdu2', 'pdu-raritan-px2']);
    for (const id of PDU_PROFILES) expect(profiles.get(id)).toMatchObject({ type: 'pdu', protocol: 'snmp' });
  });

  for (const id of PDU_PROFILES) {
    it(`reads every ${id} point good, equal to the PDU physics, and a tripped breaker as open`, async () => {
      const profile = profileOfProtocol(profiles.get(id)!, 'snmp');
      const model = pduModel();
      const hasBreakers = profile.points.some((p) => p.name === 'breaker_2_closed');
      if (hasBreakers) {
        model.setBreaker('PDU-01', 2, false);
        model.step(Date.now() + 4000);
      }
      const device = await startSimPdu(profile, model);
      cleanups.push(() => device.close());
      const driver = new SnmpDriver({ equipment: device.equipment, profile, clock: systemClock, logger, onSamples: () => undefined, services: {} });
      cleanups.push(() => driver.close());

      const { samples, errors } = await driver.read('all');
      expect(errors).toEqual([]);
      expect(samples.map((s) => s.point)).toEqual(pointsOfSet(profile.points, 'all').map((p) => p.name));
      const physics = device.served();
      for (const s of samples) {
        expect(s.quality, s.point).toBe(Quality.good);
        const want = physics[s.point];
        expect(want, `the physics has ${s.point}`).toBeDefined();
        if (typeof want === 'boolean') expect(s.value, s.point).toBe(want);
        else expect(Math.abs((s.value as number) - want!), s.point).toBeLessThanOrEqual(device.tolerance(s.point, want!));
      }
      if (hasBreakers) {
        expect(samples.find((s) => s.point === 'breaker_2_closed')?.value).toBe(false);
        expect(samples.find((s) => s.point === 'breaker_1_closed')?.value).toBe(true);
      }
      expect(device.writesReceived()).toBe(0);
    });
  }
});

const makeDriver = (ctx: Parameters<typeof describeDriverContract>[1]['makeDriver'] extends (c: infer C) => unknown ? C : never) =>
  new SnmpDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'snmp') });
describeDriverContract('snmp v3 authPriv SHA-256/AES-128 (simulator agent, pdu-raritan-px2)', {
  startDevice: () => startSimPdu(profileOfProtocol(profiles.get('pdu-raritan-px2')!, 'snmp')),
  makeDriver,
});
