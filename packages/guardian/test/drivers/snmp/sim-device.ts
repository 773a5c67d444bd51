/**
 * Test devices for the SNMP driver: the simulator's SNMP agent serving the ups-rfc1628 profile
 * from the UPS physics, with the secrets the driver reads written to files in a temp folder.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// The sim's modules directly, not its index: the index also loads the site wiring, which other
// drivers' work in progress may leave unloadable; these three are all the SNMP tests need.
import { SiteModel } from '../../../../sim/src/physics/site-model.ts';
import { loadProfiles } from '../../../../sim/src/site/profile-catalog.ts';
import { startSnmpAgent, type SimulatedSnmpAgent, type SimulatedSnmpUser, type SnmpTrapTarget } from '../../../../sim/src/snmp/snmp-agent.ts';
import { profileOfProtocol, type SnmpProfile } from '@shellguard/protocol';
import type { EquipmentConfig, SnmpEquipmentOptions } from '../../../src/config/config.ts';
import type { ContractDevice } from '../contract/driver-contract.ts';

export const UPS_PROFILE: SnmpProfile = profileOfProtocol(loadProfiles().get('ups-rfc1628')!, 'snmp');
export const COMMUNITY = 'sg-read-7f3a';
export const V3_USER: SimulatedSnmpUser = { name: 'guardian', authProtocol: 'sha256', authKey: 'auth-pass-phrase-1', privProtocol: 'aes128', privKey: 'priv-pass-phrase-1' };

export function secretsDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'shellguard-snmp-'));
}

export function writeSecret(dir: string, name: string, secret: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return file;
}

export function snmpOptions(version: '2c' | '3', user: SimulatedSnmpUser = V3_USER): SnmpEquipmentOptions {
  const dir = secretsDir();
  return version === '2c'
    ? { version, communityFile: writeSecret(dir, 'community', COMMUNITY), maxRepetitions: 20, retries: 0 }
    : { version, user: { name: user.name, authProtocol: user.authProtocol, authKeyFile: writeSecret(dir, 'auth', user.authKey), privProtocol: user.privProtocol, privKeyFile: writeSecret(dir, 'priv', user.privKey) }, maxRepetitions: 20, retries: 0 };
}

export function upsModel(): SiteModel {
  const model = new SiteModel({ assets: [{ id: 'UPS-01', type: 'ups' }], seed: 3, startMs: Date.now() });
  model.step(Date.now() + 2000);
  return model;
}

export interface SimDevice extends ContractDevice { agent(): SimulatedSnmpAgent; model: SiteModel }

/** The simulator's agent for a UPS, v2c and v3 users, restartable on the same port and engine. */
export async function startSimUps(version: '2c' | '3', opts: { user?: SimulatedSnmpUser; trapTarget?: SnmpTrapTarget; values?: () => Record<string, number | boolean> } = {}): Promise<SimDevice> {
  const model = upsModel();
  let writes = 0;
  const user = opts.user ?? V3_USER;
  const values = opts.values ?? (() => model.values('UPS-01'));
  const start = (port: number, engineID?: string) => startSnmpAgent({
    host: '127.0.0.1', port, profile: UPS_PROFILE, values, community: COMMUNITY, users: [user],
    onWrite: () => { writes++; }, ...(engineID ? { engineID } : {}), ...(opts.trapTarget ? { trapTarget: opts.trapTarget, eventCheckMs: 0 } : {}),
  });
  let agent: SimulatedSnmpAgent | undefined = await start(0);
  const port = agent.port;
  const engineID = agent.engineID;
  const equipment: EquipmentConfig = {
    asset: 'UPS-01', name: 'UPS 1', area: 'a', profile: UPS_PROFILE.id, host: '127.0.0.1', port, unitId: 1,
    pollIntervalMs: 1000, fastPollIntervalMs: 250, timeoutMs: 300, snmp: snmpOptions(version, user),
  };
  return {
    equipment, profile: UPS_PROFILE, model,
    agent: () => agent!,
    served: () => {
      const v = values();
      // MIB-native values the agent derives (mib-values.ts), as an RFC 1628 agent would.
      return { ...v, output_source: v.on_battery ? 5 : v.on_bypass ? 4 : 3, battery_status: v.battery_low ? 3 : 2, alarms_present: [v.on_battery, v.battery_low, v.ups_fault, v.on_bypass].filter(Boolean).length };
    },
    // INTEGER on the wire: half a step of the point's scale.
    tolerance: (name) => Math.abs(UPS_PROFILE.points.find((p) => p.name === name)!.scale) / 2 + 1e-9,
    stop: async () => { await agent?.close(); agent = undefined; },
    restart: async () => { agent = await start(port, engineID); },
    writesReceived: () => writes,
    close: async () => { await agent?.close(); },
  };
}
