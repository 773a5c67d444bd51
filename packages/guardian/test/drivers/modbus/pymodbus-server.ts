/**
 * Starts test/fixtures/pymodbus/server.py — an independent Modbus TCP server (Debian's
 * python3-pymodbus) — and waits for its READY line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseProfile } from '@shellguard/protocol';

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/pymodbus/', import.meta.url));
export const SERVER_SCRIPT = `${FIXTURES}server.py`;

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

/** Debian installs python3-pymodbus for the system interpreter, which may not be first on PATH. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface PymodbusServer {
  port: number;
  stop(): Promise<void>;
}

export async function startPymodbusServer(port: number): Promise<PymodbusServer> {
  const child: ChildProcess = spawn(PYTHON, [SERVER_SCRIPT, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('READY')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`pymodbus server exited (${code}) before READY; is python3-pymodbus installed (apt-get install python3-pymodbus)?\n${stderr}`)),
    );
    child.once('error', reject);
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A profile over the values in test/fixtures/pymodbus/values.json. */
export const INTEROP_PROFILE = parseProfile(`
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

