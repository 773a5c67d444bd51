/**
 * Chooses an asset's driver: the protocol is its profile's (`protocol:`, Modbus by default), and
 * the protocol's options are the equipment's section of the same name (`bacnet:`, `snmp:`,
 * `redfish:`). A missing or mismatched section is a config error naming the asset.
 */
import { profileOfProtocol } from '@shellguard/protocol';
import { ConfigError } from '../config/config.ts';
import type { DriverContext, EquipmentDriver } from './driver.ts';
import { ModbusDriver } from './modbus/modbus-driver.ts';
import { SnmpDriver } from './snmp/snmp-driver.ts';
import { RedfishDriver } from './redfish/redfish-driver.ts';
import { BacnetDriver } from './bacnet/bacnet-driver.ts';

const SECTIONS = ['bacnet', 'snmp', 'redfish'] as const;

/** Refuses a protocol section that does not fit the asset's profile. */
export function checkProtocolSections(ctx: Pick<DriverContext, 'equipment' | 'profile'>): void {
  const { equipment: e, profile } = ctx;
  for (const section of SECTIONS) {
    if (e[section] !== undefined && profile.protocol !== section) {
      throw new ConfigError(`equipment ${e.asset}: has a ${section} section, but its profile ${profile.id} is read over ${profile.protocol}; remove the section or choose a ${section} profile`, { asset: e.asset, field: section });
    }
  }
  if (profile.protocol !== 'modbus' && e[profile.protocol] === undefined) {
    throw new ConfigError(`equipment ${e.asset}: profile ${profile.id} is read over ${profile.protocol}; add a ${profile.protocol} section with its connection settings (see docs/drivers.md)`, { asset: e.asset, field: profile.protocol });
  }
}

export function createDriver(ctx: DriverContext): EquipmentDriver {
  checkProtocolSections(ctx);
  switch (ctx.profile.protocol) {
    case 'modbus': return new ModbusDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'modbus') });
    case 'bacnet': return new BacnetDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'bacnet') });
    case 'snmp': return new SnmpDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'snmp') });
    case 'redfish': return new RedfishDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'redfish') });
    default: {
      const unknown: { protocol: string } = ctx.profile;
      throw new ConfigError(`equipment ${ctx.equipment.asset}: no driver speaks ${unknown.protocol}`, { asset: ctx.equipment.asset });
    }
  }
}
