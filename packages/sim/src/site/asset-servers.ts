/**
 * One simulated device per asset, speaking its profile's protocol: a Modbus TCP server, a
 * BACnet/IP device, an SNMP agent or a Redfish service (BMC), all serving the same physics.
 * The site's credentials (SNMPv3 keys, the BMC password) are random per site start, and the BMCs
 * present one self-signed certificate whose SHA-256 the guardian pins.
 */
import { randomBytes } from 'node:crypto';
import { profileOfProtocol, type EquipmentProfile, type EquipmentProtocol } from '@shellguard/protocol';
import { EquipmentServer } from '../modbus/equipment-server.ts';
import type { PointValues } from '../physics/types.ts';
import { createSelfSignedBmcCertificate, startRedfishService, type BmcCertificate } from '../redfish/index.ts';
import { startBacnetDevice } from '../bacnet/index.ts';
import { startSnmpAgent, type SimulatedSnmpUser } from '../snmp/snmp-agent.ts';

/** A write request a simulated device received (Shellguard must never send one). */
export interface SiteWriteAttempt {
  protocol: EquipmentProtocol;
  /** What was asked: `function code 6 at 12`, `WriteProperty`, `SetRequest 1.3.6...`, `PATCH /redfish/v1/...`. */
  request: string;
  at: number;
}

/** How a guardian reaches a simulated asset beyond host and port: the simulator's own secrets. */
export interface AssetAccess {
  bacnet?: { deviceInstance: number };
  snmp?: { version: '3'; user: SimulatedSnmpUser; index?: string };
  redfish?: { chassis: string; username: string; password: string; certificate: BmcCertificate };
}

export interface AssetServer {
  port: number;
  writesReceived(): number;
  close(): Promise<void>;
}

/** Credentials shared by the simulated devices of one site start. */
export interface SiteSecrets {
  snmpUser: SimulatedSnmpUser;
  redfish: { username: string; password: string; certificate: () => Promise<BmcCertificate> };
}

export function siteSecrets(host: string): SiteSecrets {
  let certificate: Promise<BmcCertificate> | undefined;
  return {
    snmpUser: { name: 'shellguard-ro', authProtocol: 'sha256', authKey: randomBytes(12).toString('hex'), privProtocol: 'aes128', privKey: randomBytes(12).toString('hex') },
    redfish: {
      username: 'shellguard-ro', password: randomBytes(12).toString('base64url'),
      certificate: () => (certificate ??= createSelfSignedBmcCertificate({ hosts: [...new Set([host, '127.0.0.1', 'localhost'])], commonName: 'Simulated BMC' })),
    },
  };
}

export interface AssetServerOptions {
  asset: string;
  /** Position of the asset on the site (BACnet device instance 1000 + index). */
  index: number;
  host: string;
  port: number;
  unitId: number;
  profile: EquipmentProfile;
  values: () => Readonly<PointValues>;
  clock: () => number;
  secrets: SiteSecrets;
  onWrite: (attempt: SiteWriteAttempt) => void;
}

export async function startAssetServer(o: AssetServerOptions): Promise<{ server: AssetServer; access: AssetAccess }> {
  const { host, clock } = o;
  switch (o.profile.protocol) {
    case 'modbus': {
      const server = await EquipmentServer.start({
        host, port: o.port, unitId: o.unitId, profile: profileOfProtocol(o.profile, 'modbus'), values: o.values, clock,
        onWrite: (a) => o.onWrite({ protocol: 'modbus', request: `function code ${a.functionCode}${a.address === undefined ? '' : ` at ${a.address}`}`, at: a.at }),
      });
      return { server, access: {} };
    }
    case 'bacnet': {
      const deviceInstance = 1000 + o.index;
      const device = await startBacnetDevice({
        host, port: o.port, deviceInstance, profile: profileOfProtocol(o.profile, 'bacnet'), values: o.values, clock,
        onWrite: (a) => o.onWrite({ protocol: 'bacnet', request: `${a.service}${a.object ? ` ${a.object}` : ''}`, at: a.at }),
      });
      return { server: device, access: { bacnet: { deviceInstance } } };
    }
    case 'snmp': {
      const user = o.secrets.snmpUser;
      const agent = await startSnmpAgent({
        host, port: o.port, profile: profileOfProtocol(o.profile, 'snmp'), values: o.values, clock, users: [user], eventCheckMs: 0,
        onWrite: (a) => o.onWrite({ protocol: 'snmp', request: `SetRequest ${a.oids.join(' ')}`, at: a.at }),
      });
      return { server: agent, access: { snmp: { version: '3', user, index: '1' } } };
    }
    case 'redfish': {
      const { username, password } = o.secrets.redfish;
      const certificate = await o.secrets.redfish.certificate();
      const service = await startRedfishService({
        host, port: o.port, profile: profileOfProtocol(o.profile, 'redfish'), values: o.values, clock, users: { [username]: password },
        tls: { certPem: certificate.certPem, keyPem: certificate.keyPem }, chassisId: '1',
        onWrite: (a) => o.onWrite({ protocol: 'redfish', request: `${a.method} ${a.path}`, at: a.at }),
      });
      return { server: service, access: { redfish: { chassis: '1', username, password, certificate } } };
    }
  }
}
