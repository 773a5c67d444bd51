/**
 * What test/fixtures/pymodbus/server.py serves, and a profile over it, for the driver's interop
 * tests. The server itself is started by the shared test/support/pymodbus-server.ts.
 */
import { readFileSync } from 'node:fs';
import { parseModbusProfile } from '@shellguard/protocol';
import { PYMODBUS_FIXTURES as FIXTURES } from '../../../../../test/support/pymodbus-server.ts';

/** The values server.py serves (see the comment in values.json for unlisted addresses). */
export interface ServedValues {
  bitsLength: number;
  registersLength: number;
  coils: Record<string, boolean>;
  discrete: Record<string, boolean>;
  holding: Record<string, number>;
  input: Record<string, number>;
  identity: Record<string, string>;
}

export const SERVED: ServedValues = JSON.parse(readFileSync(`${FIXTURES}values.json`, 'utf8')) as ServedValues;

export function servedBit(table: 'coils' | 'discrete', address: number): boolean {
  return SERVED[table][String(address)] ?? address % 3 === 0;
}

export function servedRegister(table: 'holding' | 'input', address: number): number {
  return SERVED[table][String(address)] ?? (address * 31 + 7) & 0xffff;
}

export { startPymodbusServer, type PymodbusServer } from '../../../../../test/support/pymodbus-server.ts';

/** A profile over the values in test/fixtures/pymodbus/values.json. */
export const INTEROP_PROFILE = parseModbusProfile(`
id: interop-fixture
name: pymodbus interop fixture
type: ahu
points:
  - { name: fan_running, table: coil, address: 0 }
  - { name: filter_alarm, table: coil, address: 1 }
  - { name: door_open, table: discrete, address: 1, fast: true }
  - { name: breaker_tripped, table: discrete, address: 2, fast: true }
  - { name: supply_air_temp, table: holding, address: 0, type: int16, scale: 0.1, unit: degC }
  - { name: offset_temp, table: holding, address: 1, type: int16 }
  - { name: setpoint, table: holding, address: 2, type: float32, unit: degC }
  - { name: run_hours, table: holding, address: 4, type: uint32, unit: h }
  - { name: le_float, table: holding, address: 6, type: float32, wordOrder: little }
  - { name: mode, table: holding, address: 8, kind: enum, states: { "3": auto } }
  - { name: far_register, table: holding, address: 200, type: uint16 }
  - { name: fan_speed, table: input, address: 0, scale: 0.01, unit: "%" }
  - { name: counter, table: input, address: 1, type: uint16 }
  - { name: power, table: input, address: 2, type: float32, unit: kW, fast: true }
  - { name: state, table: input, address: 4, kind: enum }
`);

/** Engineering values of INTEROP_PROFILE's points, worked out by hand from values.json. */
export const EXPECTED_VALUES: Record<string, number | boolean> = {
  fan_running: true,
  filter_alarm: false,
  door_open: true,
  breaker_tripped: false,
  supply_air_temp: 23.5,
  offset_temp: -125,
  setpoint: 21.5,
  run_hours: 65538,
  le_float: 2.6875,
  mode: 3,
  far_register: (200 * 31 + 7) & 0xffff,
  fan_speed: 40,
  counter: 65535,
  power: 1001,
  state: 2,
};

