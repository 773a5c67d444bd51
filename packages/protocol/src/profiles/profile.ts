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
/**
 * The only keys a profile and a point may have. Anything else is a mistake to report: an unquoted
 * comma in a flow mapping (`description: Speed (RMS, ISO 10816)`) silently cuts a value and turns
 * the rest into a key of its own.
 */
export const PROFILE_KEYS = ['id', 'name', 'type', 'points'] as const;
export const PROFILE_POINT_KEYS = ['name', 'description', 'unit', 'kind', 'table', 'address', 'type', 'scale', 'offset', 'wordOrder', 'states', 'fast', 'condition'] as const;
/** Raw values each register type can hold, for the keys of `states`. */
const RAW_RANGE: Record<RegisterType, readonly [number, number]> = {
  bool: [0, 1], uint16: [0, 0xffff], int16: [-0x8000, 0x7fff], uint32: [0, 0xffffffff], int32: [-0x80000000, 0x7fffffff],
  float32: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

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

function noUnknownKeys(source: string, path: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) {
      const where = path === '(root)' ? key : `${path}.${key}`;
      fail(source, where, `unknown key (known: ${known.join(', ')}); quote a value that holds a comma, e.g. description: 'a, b'`);
    }
  }
}

function bool(source: string, path: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') fail(source, path, `must be true or false (got ${JSON.stringify(v)})`);
  return v;
}

/** raw value -> state name: whole numbers the register can hold, each naming a distinct, non-empty state. */
function statesOf(source: string, path: string, v: unknown, type: RegisterType): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(source, path, 'must map raw values to names, e.g. { 0: off, 1: auto }');
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) fail(source, path, 'must name at least one state');
  const [min, max] = RAW_RANGE[type];
  const names = new Set<string>();
  for (const [raw, name] of entries) {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) fail(source, `${path}.${raw}`, `the raw value must be a whole number from ${min} to ${max} (the range of ${type})`);
    if (typeof name !== 'string' || name.length === 0) {
      fail(source, `${path}.${raw}`, `must be a state name (got ${JSON.stringify(name)}); quote names YAML reads otherwise, e.g. 'off', 'on', 'yes'`);
    }
    if (names.has(name)) fail(source, `${path}.${raw}`, `state name ${name} is used twice`);
    names.add(name);
  }
  return Object.fromEntries(entries) as Record<string, string>;
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
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(source, '(root)', 'must be a mapping');
  const d = doc as Record<string, unknown>;
  noUnknownKeys(source, '(root)', d, PROFILE_KEYS);
  const id = str(source, 'id', d.id);
  if (!isValidId(id)) fail(source, 'id', 'must use only A-Z a-z 0-9 . _ : -');
  if (!Array.isArray(d.points) || d.points.length === 0) fail(source, 'points', 'must be a non-empty list');
  const seen = new Set<string>();
  const points = (d.points as unknown[]).map((raw, i): ProfilePoint => {
    const at = `points[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(source, at, 'must be a mapping');
    const p = raw as Record<string, unknown>;
    noUnknownKeys(source, at, p, PROFILE_POINT_KEYS);
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
      if (kind !== 'enum') fail(source, `${at}.states`, `only an enum point has states (this one is ${kind}; add kind: enum)`);
      states = statesOf(source, `${at}.states`, p.states, type);
    }
    if (p.unit !== undefined && typeof p.unit !== 'string') fail(source, `${at}.unit`, `must be a string (got ${JSON.stringify(p.unit)}); quote units such as '%'`);
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
      fast: bool(source, `${at}.fast`, p.fast),
      condition: bool(source, `${at}.condition`, p.condition),
    };
    if (states) point.states = states;
    return point;
  });
  return { id, name: str(source, 'name', d.name, id), type: str(source, 'type', d.type), points };
}
