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
/** The protocols a guardian reads equipment over, each through its own driver (all read-only). */
export type EquipmentProtocol = 'modbus' | 'bacnet' | 'snmp' | 'redfish';
export const EQUIPMENT_PROTOCOLS: readonly EquipmentProtocol[] = ['modbus', 'bacnet', 'snmp', 'redfish'];

/** What every point has, whatever protocol it is read over. */
export interface PointBase extends PointDefinition {
  /** engineering value = raw * scale + offset (analog points) */
  scale: number;
  offset: number;
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

/** A Modbus point: a table, a zero-based PDU address and a register type. */
export interface ProfilePoint extends PointBase {
  table: ModbusTable;
  address: number;
  type: RegisterType;
  /** For 32-bit values: which register holds the high word. Modbus convention is big (high first). */
  wordOrder: 'big' | 'little';
}
export type ModbusPoint = ProfilePoint;

/** BACnet object types a profile may read (ASHRAE 135 clause 21, BACnetObjectType). */
export const BACNET_OBJECT_TYPES = {
  'analog-input': 0, 'analog-output': 1, 'analog-value': 2, 'binary-input': 3, 'binary-output': 4, 'binary-value': 5,
  'device': 8, 'multi-state-input': 13, 'multi-state-output': 14, 'trend-log': 20, 'multi-state-value': 19, 'accumulator': 23,
} as const;
export type BacnetObjectTypeName = keyof typeof BACNET_OBJECT_TYPES;
/** BACnet properties a profile may read (BACnetPropertyIdentifier). */
export const BACNET_PROPERTIES = {
  'present-value': 85, 'status-flags': 111, 'reliability': 103, 'out-of-service': 81, 'event-state': 36,
  'units': 117, 'object-name': 77, 'description': 28, 'system-status': 112, 'relinquish-default': 104,
} as const;
export type BacnetPropertyName = keyof typeof BACNET_PROPERTIES;

/** A BACnet point: one property of one object of the device. */
export interface BacnetPoint extends PointBase {
  objectType: BacnetObjectTypeName;
  instance: number;
  property: BacnetPropertyName;
  /** Subscribe to changes of value (SubscribeCOV, renewed) besides polling. */
  cov: boolean;
}

/** An SNMP point: one scalar or table cell; `{index}` in the OID is the equipment's snmp.index. */
export interface SnmpPoint extends PointBase {
  /** Numeric OID, e.g. 1.3.6.1.2.1.33.1.2.4.0 (upsEstimatedChargeRemaining.0). Absent on trap-only points. */
  oid?: string;
  /** A trap-fed binary point: true when a trap with OID `set` arrives, false on `clear`. */
  trap?: { set: string; clear?: string };
}

/** A Redfish point: a JSON pointer into one resource of the server's chassis. */
export interface RedfishPoint extends PointBase {
  /**
   * The resource: a path under the chassis (`Power`, `Thermal`, `EnvironmentMetrics`,
   * `Sensors/CPU1Temp`) or an absolute `/redfish/v1/...` path; `{chassis}` is the equipment's
   * redfish.chassis.
   */
  resource: string;
  /** RFC 6901 JSON pointer to the value inside the resource, e.g. /PowerControl/0/PowerConsumedWatts. */
  pointer: string;
  /** For enum points read as strings (Status.Health): device string -> raw value (a key of states). */
  enumValues?: Record<string, number>;
}

interface ProfileBase {
  id: string;
  name: string;
  /** Asset type, e.g. ahu, crah, ups, pdu, generator, panel, server, switch. */
  type: string;
  /** Where the point map comes from: the MIB, the vendor manual, the standard (named for review). */
  source?: string;
}
export interface ModbusProfile extends ProfileBase { protocol: 'modbus'; points: ProfilePoint[] }
export interface BacnetProfile extends ProfileBase { protocol: 'bacnet'; points: BacnetPoint[] }
export interface SnmpProfile extends ProfileBase { protocol: 'snmp'; points: SnmpPoint[] }
export interface RedfishProfile extends ProfileBase { protocol: 'redfish'; points: RedfishPoint[] }
/** An equipment profile: a device's point map as data, for one protocol. */
export type EquipmentProfile = ModbusProfile | BacnetProfile | SnmpProfile | RedfishProfile;
/** Any profile's point (the fields every protocol shares, and its own). */
export type AnyProfilePoint = EquipmentProfile['points'][number];

const TABLES: readonly ModbusTable[] = ['coil', 'discrete', 'input', 'holding'];
const TYPES: readonly RegisterType[] = ['bool', 'uint16', 'int16', 'uint32', 'int32', 'float32'];
const KINDS: readonly PointKind[] = ['analog', 'binary', 'enum'];
/**
 * The only keys a profile and a point may have. Anything else is a mistake to report: an unquoted
 * comma in a flow mapping (`description: Speed (RMS, ISO 10816)`) silently cuts a value and turns
 * the rest into a key of its own.
 */
export const PROFILE_KEYS = ['id', 'name', 'type', 'protocol', 'source', 'points'] as const;
const COMMON_POINT_KEYS = ['name', 'description', 'unit', 'kind', 'scale', 'offset', 'states', 'fast', 'condition'] as const;
export const PROFILE_POINT_KEYS = ['name', 'description', 'unit', 'kind', 'table', 'address', 'type', 'scale', 'offset', 'wordOrder', 'states', 'fast', 'condition'] as const;
/** The keys a point may have, per protocol. */
export const POINT_KEYS_BY_PROTOCOL: Record<EquipmentProtocol, readonly string[]> = {
  modbus: PROFILE_POINT_KEYS,
  bacnet: [...COMMON_POINT_KEYS, 'object', 'property', 'cov'],
  snmp: [...COMMON_POINT_KEYS, 'oid', 'trap'],
  redfish: [...COMMON_POINT_KEYS, 'resource', 'pointer', 'enumValues'],
};
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
function statesOf(source: string, path: string, v: unknown, range: readonly [number, number], rangeName: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(source, path, 'must map raw values to names, e.g. { 0: off, 1: auto }');
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) fail(source, path, 'must name at least one state');
  const [min, max] = range;
  const names = new Set<string>();
  for (const [raw, name] of entries) {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) fail(source, `${path}.${raw}`, `the raw value must be a whole number from ${min} to ${max} (the range of ${rangeName})`);
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
  const protocol = oneOf(source, 'protocol', d.protocol, EQUIPMENT_PROTOCOLS, 'modbus');
  if (!Array.isArray(d.points) || d.points.length === 0) fail(source, 'points', 'must be a non-empty list');
  const seen = new Set<string>();
  const base = { id, name: str(source, 'name', d.name, id), type: str(source, 'type', d.type), ...(d.source === undefined ? {} : { source: str(source, 'source', d.source) }) };
  const pointsOf = <P>(parsePoint: (at: string, p: Record<string, unknown>, common: CommonFields) => P): P[] => (d.points as unknown[]).map((raw, i) => {
    const at = `points[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(source, at, 'must be a mapping');
    const p = raw as Record<string, unknown>;
    noUnknownKeys(source, at, p, POINT_KEYS_BY_PROTOCOL[protocol]);
    const name = str(source, `${at}.name`, p.name);
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) fail(source, `${at}.name`, 'must be snake_case, starting with a letter');
    if (seen.has(name)) fail(source, `${at}.name`, `duplicate point name ${name}`);
    seen.add(name);
    if (p.unit !== undefined && typeof p.unit !== 'string') fail(source, `${at}.unit`, `must be a string (got ${JSON.stringify(p.unit)}); quote units such as '%'`);
    return parsePoint(at, p, { name, description: str(source, `${at}.description`, p.description, ''), unit: typeof p.unit === 'string' ? p.unit : '' });
  });
  switch (protocol) {
    case 'modbus': return { ...base, protocol, points: pointsOf((at, p, c) => modbusPoint(source, at, p, c)) };
    case 'bacnet': return { ...base, protocol, points: pointsOf((at, p, c) => bacnetPoint(source, at, p, c)) };
    case 'snmp': return { ...base, protocol, points: pointsOf((at, p, c) => snmpPoint(source, at, p, c)) };
    case 'redfish': return { ...base, protocol, points: pointsOf((at, p, c) => redfishPoint(source, at, p, c)) };
  }
}

interface CommonFields { name: string; description: string; unit: string }

/** kind, states, scale, offset, fast, condition: the same for every protocol. */
function pointBase(source: string, at: string, p: Record<string, unknown>, c: CommonFields, defaultKind: PointKind, rawRange: readonly [number, number], rangeName: string): PointBase {
  const kind = oneOf(source, `${at}.kind`, p.kind, KINDS, defaultKind);
  const point: PointBase = {
    ...c,
    kind,
    scale: num(source, `${at}.scale`, p.scale, 1),
    offset: num(source, `${at}.offset`, p.offset, 0),
    fast: bool(source, `${at}.fast`, p.fast),
    condition: bool(source, `${at}.condition`, p.condition),
  };
  if (p.states !== undefined) {
    if (kind !== 'enum') fail(source, `${at}.states`, `only an enum point has states (this one is ${kind}; add kind: enum)`);
    point.states = statesOf(source, `${at}.states`, p.states, rawRange, rangeName);
  }
  return point;
}

function modbusPoint(source: string, at: string, p: Record<string, unknown>, c: CommonFields): ProfilePoint {
  const table = oneOf(source, `${at}.table`, p.table, TABLES);
  const bitTable = table === 'coil' || table === 'discrete';
  const type = oneOf(source, `${at}.type`, p.type, TYPES, bitTable ? 'bool' : 'uint16');
  if (bitTable !== (type === 'bool')) fail(source, `${at}.type`, `type ${type} does not fit table ${table}`);
  const address = num(source, `${at}.address`, p.address, -1);
  if (!Number.isInteger(address) || address < 0 || address + registerCount(type) > 0x10000) {
    fail(source, `${at}.address`, 'must be an integer PDU address 0-65535');
  }
  const common = pointBase(source, at, p, c, type === 'bool' ? 'binary' : 'analog', RAW_RANGE[type], type);
  const { states, ...rest } = common;
  // Key order as before: the modbus fields sit between kind and scale (profiles are compared whole in tests).
  return {
    name: rest.name, description: rest.description, unit: rest.unit, kind: rest.kind, table, address, type,
    scale: rest.scale, offset: rest.offset,
    wordOrder: oneOf(source, `${at}.wordOrder`, p.wordOrder, ['big', 'little'] as const, 'big'),
    fast: rest.fast, condition: rest.condition, ...(states ? { states } : {}),
  };
}

/** Whole-number raw values of protocols without register widths (BACnet enumerations, SNMP INTEGER). */
const INT32_RANGE = [-0x80000000, 0xffffffff] as const;
const OID_PATTERN = /^(?:[0-2])(?:\.(?:0|[1-9]\d{0,9}|\{index\}))+$/;

function oid(source: string, path: string, v: unknown): string {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string' || !OID_PATTERN.test(s) || s.split('.').length > 128) {
    fail(source, path, `must be a numeric OID such as 1.3.6.1.2.1.33.1.2.4.0 (dotted numbers, {index} for the table row; got ${JSON.stringify(v)})`);
  }
  return s;
}

function bacnetPoint(source: string, at: string, p: Record<string, unknown>, c: CommonFields): BacnetPoint {
  const object = str(source, `${at}.object`, p.object);
  const m = /^([a-z-]+):(\d{1,7})$/.exec(object);
  if (!m || !(m[1]! in BACNET_OBJECT_TYPES) || Number(m[2]) > 0x3ffffe) {
    fail(source, `${at}.object`, `must be <object-type>:<instance>, e.g. analog-input:3 (types: ${Object.keys(BACNET_OBJECT_TYPES).join(', ')}; instance 0-4194302)`);
  }
  const objectType = m[1] as BacnetObjectTypeName;
  const binary = objectType.startsWith('binary-');
  const multi = objectType.startsWith('multi-state-');
  const property = oneOf(source, `${at}.property`, p.property, Object.keys(BACNET_PROPERTIES) as BacnetPropertyName[], 'present-value');
  const common = pointBase(source, at, p, c, binary ? 'binary' : multi ? 'enum' : 'analog', INT32_RANGE, 'a BACnet enumeration');
  return { ...common, objectType, instance: Number(m[2]), property, cov: bool(source, `${at}.cov`, p.cov) };
}

function snmpPoint(source: string, at: string, p: Record<string, unknown>, c: CommonFields): SnmpPoint {
  if ((p.oid === undefined) === (p.trap === undefined)) fail(source, at, 'needs exactly one of oid (a polled value) or trap (a trap-fed binary point)');
  if (p.trap !== undefined) {
    if (typeof p.trap !== 'object' || p.trap === null || Array.isArray(p.trap)) fail(source, `${at}.trap`, 'must be { set: <trap OID>, clear: <trap OID> }');
    const t = p.trap as Record<string, unknown>;
    noUnknownKeys(source, `${at}.trap`, t, ['set', 'clear']);
    const common = pointBase(source, at, p, c, 'binary', [0, 1], 'bool');
    if (common.kind !== 'binary') fail(source, `${at}.kind`, 'a trap-fed point is binary');
    const trap = { set: oid(source, `${at}.trap.set`, t.set), ...(t.clear === undefined ? {} : { clear: oid(source, `${at}.trap.clear`, t.clear) }) };
    return { ...common, trap };
  }
  return { ...pointBase(source, at, p, c, 'analog', INT32_RANGE, 'an SNMP INTEGER'), oid: oid(source, `${at}.oid`, p.oid) };
}

function redfishPoint(source: string, at: string, p: Record<string, unknown>, c: CommonFields): RedfishPoint {
  const resource = str(source, `${at}.resource`, p.resource);
  if (!/^(?:\/redfish\/v1\/)?[A-Za-z0-9_.{}-]+(?:\/[A-Za-z0-9_.{}-]+)*$/.test(resource) || resource.includes('..')) {
    fail(source, `${at}.resource`, 'must be a path under the chassis (Power, Thermal, EnvironmentMetrics, Sensors/<id>) or /redfish/v1/..., letters, digits and _ . - { } only');
  }
  const pointer = str(source, `${at}.pointer`, p.pointer);
  if (!/^(?:\/(?:[^/~]|~[01])*)+$/.test(pointer)) fail(source, `${at}.pointer`, 'must be an RFC 6901 JSON pointer such as /PowerControl/0/PowerConsumedWatts');
  const common = pointBase(source, at, p, c, 'analog', INT32_RANGE, 'a raw value');
  const point: RedfishPoint = { ...common, resource, pointer };
  if (p.enumValues !== undefined) {
    if (common.kind !== 'enum' || !common.states) fail(source, `${at}.enumValues`, 'only an enum point with states maps device strings to values');
    if (typeof p.enumValues !== 'object' || p.enumValues === null || Array.isArray(p.enumValues)) fail(source, `${at}.enumValues`, 'must map device strings to raw values, e.g. { OK: 0, Warning: 1, Critical: 2 }');
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(p.enumValues as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || !(String(v) in common.states)) fail(source, `${at}.enumValues.${k}`, `must be one of the raw values of states (${Object.keys(common.states).join(', ')})`);
      out[k] = v;
    }
    point.enumValues = out;
  }
  return point;
}

/** The profile as one protocol's, or a clear error naming what it is instead. */
export function profileOfProtocol<T extends EquipmentProtocol>(profile: EquipmentProfile, protocol: T): Extract<EquipmentProfile, { protocol: T }> {
  if (profile.protocol !== protocol) {
    throw new ProtocolError('profile_protocol_mismatch', `profile ${profile.id} is a ${profile.protocol} profile, not ${protocol}`, { profile: profile.id, protocol: profile.protocol, expected: protocol });
  }
  return profile as Extract<EquipmentProfile, { protocol: T }>;
}

/** Parses a profile that must be a Modbus one (register maps, the simulator's Modbus servers). */
export function parseModbusProfile(text: string, source = 'profile'): ModbusProfile {
  return profileOfProtocol(parseProfile(text, source), 'modbus');
}
