/**
 * Equipment profiles: a vendor's register map as data. A profile maps Modbus tables and
 * addresses to named points with unit, scaling and type. The guardian reads through it; the
 * simulator lays out its registers by it. Profiles are YAML files in `packages/protocol/profiles/`.
 *
 * Addresses are zero-based PDU addresses (Modbus Application Protocol v1.1b3 §4.4), not the
 * 1-based "40001" register numbers printed in many manuals.
 */
import { parse as parseYaml } from 'yaml';
import { ProtocolError } from '../errors.ts';
import { isValidId } from '../topics.ts';
import type { PointDefinition, PointKind } from '../telemetry.ts';

export type ModbusTable = 'coil' | 'discrete' | 'input' | 'holding';
export type RegisterType = 'bool' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32';

export interface ProfilePoint extends PointDefinition {
  table: ModbusTable;
  address: number;
  type: RegisterType;
  /** engineering value = raw * scale + offset */
  scale: number;
  offset: number;
  /** For 32-bit values: which register holds the high word. Modbus convention is big (high first). */
  wordOrder: 'big' | 'little';
  /** For enum points: raw value -> state name. */
  states?: Record<string, string>;
  /** Safety-relevant points (door contacts, breakers) are polled on the fast path. */
  fast: boolean;
  /**
   * Condition-monitoring points: their slow drift means wear (bearing vibration, motor current,
   * filter pressure drop, coolant temperature), so a sustained deviation becomes a maintenance
   * recommendation. Process values that follow load or weather (air temperatures, valve
   * positions, humidity) still get anomaly scores and alarms, but never a work order.
   */
  condition: boolean;
}

export interface EquipmentProfile {
  id: string;
  name: string;
  /** Asset type, e.g. ahu, crah, ups, pdu, generator, panel. */
  type: string;
  points: ProfilePoint[];
}

const TABLES: readonly ModbusTable[] = ['coil', 'discrete', 'input', 'holding'];
const TYPES: readonly RegisterType[] = ['bool', 'uint16', 'int16', 'uint32', 'int32', 'float32'];
const KINDS: readonly PointKind[] = ['analog', 'binary', 'enum'];

export function registerCount(type: RegisterType): number {
  return type === 'uint32' || type === 'int32' || type === 'float32' ? 2 : 1;
}

function fail(source: string, path: string, message: string): never {
  throw new ProtocolError('profile_invalid', `${source}: ${path}: ${message}`, { source, path });
}

function str(source: string, path: string, v: unknown, fallback?: string): string {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || v.length === 0) fail(source, path, 'must be a non-empty string');
  return v;
}

function num(source: string, path: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(source, path, 'must be a finite number');
  return v;
}

function oneOf<T extends string>(source: string, path: string, v: unknown, allowed: readonly T[], fallback?: T): T {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(source, path, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
  }
  return v as T;
}

/** Parses and validates a profile; `source` names the file in error messages. */
export function parseProfile(text: string, source = 'profile'): EquipmentProfile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ProtocolError('profile_invalid', `${source}: not valid YAML: ${(err as Error).message}`, { source });
  }
  if (typeof doc !== 'object' || doc === null) fail(source, '(root)', 'must be a mapping');
  const d = doc as Record<string, unknown>;
  const id = str(source, 'id', d.id);
  if (!isValidId(id)) fail(source, 'id', 'must use only A-Z a-z 0-9 . _ : -');
  if (!Array.isArray(d.points) || d.points.length === 0) fail(source, 'points', 'must be a non-empty list');
  const seen = new Set<string>();
  const points = (d.points as unknown[]).map((raw, i): ProfilePoint => {
    const at = `points[${i}]`;
    if (typeof raw !== 'object' || raw === null) fail(source, at, 'must be a mapping');
    const p = raw as Record<string, unknown>;
    const name = str(source, `${at}.name`, p.name);
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) fail(source, `${at}.name`, 'must be snake_case, starting with a letter');
    if (seen.has(name)) fail(source, `${at}.name`, `duplicate point name ${name}`);
    seen.add(name);
    const table = oneOf(source, `${at}.table`, p.table, TABLES);
    const bitTable = table === 'coil' || table === 'discrete';
    const type = oneOf(source, `${at}.type`, p.type, TYPES, bitTable ? 'bool' : 'uint16');
    if (bitTable !== (type === 'bool')) fail(source, `${at}.type`, `type ${type} does not fit table ${table}`);
    const address = num(source, `${at}.address`, p.address, -1);
    if (!Number.isInteger(address) || address < 0 || address + registerCount(type) > 0x10000) {
      fail(source, `${at}.address`, 'must be an integer PDU address 0-65535');
    }
    const kind = oneOf(source, `${at}.kind`, p.kind, KINDS, type === 'bool' ? 'binary' : 'analog');
    let states: Record<string, string> | undefined;
    if (p.states !== undefined) {
      if (typeof p.states !== 'object' || p.states === null) fail(source, `${at}.states`, 'must map raw values to names');
      states = Object.fromEntries(Object.entries(p.states as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    }
    const point: ProfilePoint = {
      name,
      description: str(source, `${at}.description`, p.description, ''),
      unit: typeof p.unit === 'string' ? p.unit : '',
      kind,
      table,
      address,
      type,
      scale: num(source, `${at}.scale`, p.scale, 1),
      offset: num(source, `${at}.offset`, p.offset, 0),
      wordOrder: oneOf(source, `${at}.wordOrder`, p.wordOrder, ['big', 'little'] as const, 'big'),
      fast: p.fast === true,
      condition: p.condition === true,
    };
    if (states) point.states = states;
    return point;
  });
  return { id, name: str(source, 'name', d.name, id), type: str(source, 'type', d.type), points };
}
