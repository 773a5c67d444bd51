/**
 * Raw device values <-> engineering values, for every protocol: what a driver read (a BACnet REAL,
 * an SNMP Gauge32, a Redfish number) becomes the value stored, by the point's kind, scale and
 * offset. Modbus adds its register decoding in front (registers.ts). Pure functions.
 */
import { ProtocolError } from '../errors.ts';
import type { PointBase } from './profile.ts';

/** A raw value -> the point's engineering value; refuses what the point cannot hold. */
export function engineeringValue(point: PointBase, raw: number | boolean): number | boolean {
  if (point.kind === 'binary') return typeof raw === 'boolean' ? raw : raw !== 0;
  const n = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
  if (!Number.isFinite(n)) throw new ProtocolError('value_not_finite', `${point.name} holds a non-finite value`);
  if (point.kind === 'enum') {
    if (!Number.isInteger(n)) throw new ProtocolError('value_not_integer', `${point.name} is an enum and holds ${n}, not a whole number`);
    return n;
  }
  if (point.scale === 1 && point.offset === 0) return n;
  // raw * 0.1 is 83.10000000000001 in binary floating point; 12 significant digits is far beyond
  // any device's resolution, and gives operators the number the device meant (83.1).
  return Number.parseFloat((n * point.scale + point.offset).toPrecision(12));
}

/** An engineering value -> the raw value a device with this point map would hold (simulators). */
export function rawValue(point: PointBase, value: number | boolean): number {
  const eng = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  return point.kind === 'analog' ? (eng - point.offset) / point.scale : eng;
}
