/**
 * The driver contract on the SNMP driver: against the simulator's SNMP agent over v2c and v3
 * authPriv (SHA-256 + AES-128, SHA-512 + AES-256), and against an independent agent, snmpsim,
 * serving recorded data (snmpsim-interop.test.ts runs the same suite there).
 */
import { SnmpDriver } from '../../../src/drivers/snmp/snmp-driver.ts';
import { profileOfProtocol } from '@shellguard/protocol';
import { describeDriverContract } from './driver-contract.ts';
import { startSimUps, V3_USER } from '../snmp/sim-device.ts';

const makeDriver = (ctx: Parameters<typeof describeDriverContract>[1]['makeDriver'] extends (c: infer C) => unknown ? C : never) =>
  new SnmpDriver({ ...ctx, profile: profileOfProtocol(ctx.profile, 'snmp') });

describeDriverContract('snmp v2c (simulator agent)', { startDevice: () => startSimUps('2c'), makeDriver });
describeDriverContract('snmp v3 authPriv SHA-256/AES-128 (simulator agent)', { startDevice: () => startSimUps('3'), makeDriver });
describeDriverContract('snmp v3 authPriv SHA-512/AES-256 (simulator agent)', {
  startDevice: () => startSimUps('3', { user: { ...V3_USER, name: 'guardian512', authProtocol: 'sha512', privProtocol: 'aes256' } }),
  makeDriver,
});
