/**
 * A varbind as read -> the raw number a profile point scales (values.ts does the scaling).
 * SMIv2 numeric types only (RFC 2578 §7.1): INTEGER/Integer32, Counter32, Gauge32/Unsigned32,
 * TimeTicks, Counter64. A Counter64 arrives as big-endian bytes; it becomes a JS number, exact up
 * to 2^53 (an ifHCInOctets of 9 PB; beyond that it is rounded, never wrapped).
 */
import snmp from 'net-snmp';
import { SnmpError } from './errors.ts';
import type { SnmpVarbind } from './read-only-session.ts';

const NUMERIC: ReadonlySet<number> = new Set([
  snmp.ObjectType.Integer, snmp.ObjectType.Counter, snmp.ObjectType.Gauge, snmp.ObjectType.TimeTicks,
]);

const EXCEPTION: Readonly<Record<number, { code: 'snmp_no_such_object' | 'snmp_no_such_instance' | 'snmp_end_of_mib_view'; text: string }>> = {
  [snmp.ObjectType.NoSuchObject]: { code: 'snmp_no_such_object', text: 'the agent does not implement this object (noSuchObject): check the profile fits this device' },
  [snmp.ObjectType.NoSuchInstance]: { code: 'snmp_no_such_instance', text: 'the object exists but not this instance (noSuchInstance): check snmp.index and the table row' },
  [snmp.ObjectType.EndOfMibView]: { code: 'snmp_end_of_mib_view', text: 'the agent has nothing at or after this OID (endOfMibView)' },
};

/** The varbind's number, or an SnmpError saying why the point has none. */
export function rawNumberOf(vb: SnmpVarbind): number {
  const exception = EXCEPTION[vb.type];
  if (exception) throw new SnmpError(exception.code, `${vb.oid}: ${exception.text}`, { oid: vb.oid });
  if (NUMERIC.has(vb.type)) {
    if (typeof vb.value === 'number' && Number.isFinite(vb.value)) return vb.value;
  } else if (vb.type === snmp.ObjectType.Counter64) {
    if (vb.value instanceof Buffer && vb.value.length > 0 && vb.value.length <= 9) {
      return Number(BigInt(`0x${vb.value.toString('hex')}`));
    }
    if (typeof vb.value === 'number' && Number.isFinite(vb.value) && vb.value >= 0) return vb.value;
  } else if (vb.type === snmp.ObjectType.OctetString && vb.value instanceof Buffer) {
    // Some agents (UCD-SNMP-MIB laLoad) give numbers only as DisplayString; accept a plain decimal.
    const text = vb.value.toString('latin1').trim();
    if (/^-?\d+(?:\.\d+)?$/.test(text)) return Number(text);
  }
  throw new SnmpError('snmp_value_invalid', `${vb.oid}: holds ${typeName(vb.type)}${describeValue(vb.value)}, not a number the point can hold; check the profile's OID`, { oid: vb.oid, type: vb.type });
}

function typeName(type: number): string {
  return (snmp.ObjectType as unknown as Record<number, string>)[type] ?? `ASN.1 type ${type}`;
}

function describeValue(v: unknown): string {
  if (v instanceof Buffer) return ` (${v.length} bytes)`;
  if (typeof v === 'number') return ` (${v})`;
  return '';
}
