/**
 * The equipment driver port: how the guardian reads one asset, whatever protocol it speaks.
 *
 * A driver is made for one asset (its config and profile) by `createDriver`; the guardian polls it
 * on the asset's timers, queues what it returns, and shows the safety points to the panel
 * controller. Every driver is read-only below its socket: the requests it can build are only the
 * reading ones of its protocol, and a refusal happens before any packet exists (docs/drivers.md).
 *
 * A driver never throws for a device fault: a point it could not read comes back
 * `value: null, quality: bad`, with the reason in `errors`, and the other points are still read.
 */
import type { Logger } from 'pino';
import { ShellguardError, type Clock, type EquipmentProfile, type EquipmentProtocol, type Sample } from '@shellguard/protocol';
import type { EquipmentConfig } from '../config/config.ts';

/** A driver used wrongly (read after close), as against a device fault, which is never thrown. */
export class DriverError extends ShellguardError {}

export function driverClosed(asset: string): DriverError {
  return new DriverError('driver_closed', `the driver of ${asset} is closed; nothing more is read`, { asset });
}

/** Why some points of a read have no value. */
export interface PollFailure {
  /** Where the driver failed, for the operator: `input registers 0-9`, `analog-input:3`, an OID, a URL path. */
  where: string;
  /** Names of the points left without a value. */
  points: string[];
  error: ShellguardError;
}

export interface PollResult {
  /** One sample per point of the set read, in profile order. */
  samples: Sample[];
  errors: PollFailure[];
}

/** All of an asset's polled points, or only its safety-relevant `fast: true` ones. */
export type PointSet = 'all' | 'fast';

export interface EquipmentDriver {
  readonly protocol: EquipmentProtocol;
  /**
   * Reads the points of `set` now. Resolves even when the device is down (every point bad); it
   * rejects only for a programming error (a closed driver).
   */
  read(set: PointSet): Promise<PollResult>;
  /** Stops subscriptions and closes sockets; idempotent. */
  close(): Promise<void>;
}

/** What a driver is made from. */
export interface DriverContext<P extends EquipmentProfile = EquipmentProfile> {
  equipment: EquipmentConfig;
  profile: P;
  clock: Clock;
  logger: Logger;
  /**
   * Values the device sent unasked (BACnet change-of-value notifications, SNMP traps): queued and
   * shown to the panel controller like polled ones.
   */
  onSamples(samples: Sample[]): void;
  /** Guardian-wide services some drivers share (one SNMP trap listener for every SNMP asset). */
  services: DriverServices;
}

/** Listeners shared by every driver of a protocol; a driver registers its asset with them. */
export interface DriverServices {
  snmpTraps?: SnmpTrapRegistry;
}

/** Where an SNMP driver registers its asset to be given the traps its agent sends. */
export interface SnmpTrapRegistry {
  /** `onTrap` gets each trap from this agent (matched by source address); returns an unregister function. */
  register(agent: { asset: string; host: string; port: number }, onTrap: (trap: SnmpTrapEvent) => void): () => void;
}

export interface SnmpTrapEvent {
  /** snmpTrapOID.0 (v2c/v3) or the v1 enterprise/specific trap as an OID. */
  trapOid: string;
  varbinds: { oid: string; value: number | string | boolean | null }[];
  /** Epoch ms at receipt. */
  ts: number;
  /** Inform (acknowledged) rather than trap. */
  inform: boolean;
}

/**
 * The points a read of `set` returns, in profile order: every polled point, or only the fast
 * ones. Trap-fed SNMP points are never polled; they arrive through `onSamples`.
 */
export function pointsOfSet<P extends EquipmentProfile['points'][number]>(points: readonly P[], set: PointSet): P[] {
  return points.filter((p) => !('trap' in p && p.trap !== undefined) && (set === 'all' || p.fast));
}
