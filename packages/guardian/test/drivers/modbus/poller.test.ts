import { describe, expect, it } from 'vitest';
import { Quality, encodePointValue, parseModbusProfile } from '@shellguard/protocol';
import { ModbusError } from '../../../src/drivers/modbus/errors.ts';
import type { ModbusReader } from '../../../src/drivers/modbus/tcp-client.ts';
import { buildReadPlan } from '../../../src/drivers/modbus/read-plan.ts';
import { pollAsset } from '../../../src/drivers/modbus/poller.ts';

const profile = parseModbusProfile(`
id: test-ahu
type: ahu
points:
  - { name: door_open, table: discrete, address: 0, fast: true }
  - { name: supply_temp, table: input, address: 0, type: int16, scale: 0.1 }
  - { name: power, table: input, address: 1, type: float32 }
  - { name: setpoint, table: holding, address: 0, scale: 0.5 }
  - { name: mode, table: holding, address: 1, kind: enum }
`);

/** An in-memory device; tables can be made to fail. */
function fakeDevice(registers: { input: number[]; holding: number[] }, discrete: boolean[], failing: Set<string> = new Set()): ModbusReader & { calls: string[] } {
  const calls: string[] = [];
  const guard = (table: string) => {
    calls.push(table);
    if (failing.has(table)) throw new ModbusError('modbus_exception', 'device answered exception ServerDeviceBusy', { exceptionCode: 6, exceptionName: 'ServerDeviceBusy' });
  };
  return {
    calls,
    readCoils: async () => (guard('coil'), []),
    readDiscreteInputs: async (_u, a, q) => (guard('discrete'), discrete.slice(a, a + q)),
    readInputRegisters: async (_u, a, q) => (guard('input'), registers.input.slice(a, a + q)),
    readHoldingRegisters: async (_u, a, q) => (guard('holding'), registers.holding.slice(a, a + q)),
  };
}

const power = profile.points.find((p) => p.name === 'power')!;
const regs = { input: [((-215 & 0xffff) >>> 0), ...encodePointValue(power, 12.25)], holding: [44, 2] };

describe('pollAsset', () => {
  it('decodes every point into a good sample, in profile order, with one request per block', async () => {
    const device = fakeDevice(regs, [true]);
    const { samples, errors } = await pollAsset(device, 1, profile, buildReadPlan(profile), () => 42);
    expect(errors).toEqual([]);
    expect(samples).toEqual([
      { point: 'door_open', ts: 42, value: true, quality: Quality.good },
      { point: 'supply_temp', ts: 42, value: -21.5, quality: Quality.good },
      { point: 'power', ts: 42, value: 12.25, quality: Quality.good },
      { point: 'setpoint', ts: 42, value: 22, quality: Quality.good },
      { point: 'mode', ts: 42, value: 2, quality: Quality.good },
    ]);
    expect(device.calls).toEqual(['discrete', 'input', 'holding']);
  });

  it('marks the points of a failed request bad, reports the error, and still reads the rest', async () => {
    const device = fakeDevice(regs, [false], new Set(['input']));
    const { samples, errors } = await pollAsset(device, 1, profile, buildReadPlan(profile), () => 7);
    expect(samples.filter((s) => s.quality === Quality.bad)).toEqual([
      { point: 'supply_temp', ts: 7, value: null, quality: Quality.bad },
      { point: 'power', ts: 7, value: null, quality: Quality.bad },
    ]);
    expect(samples.find((s) => s.point === 'setpoint')).toMatchObject({ value: 22, quality: Quality.good });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ where: 'input registers 0-2', points: ['supply_temp', 'power'] });
    expect(errors[0]!.error.code).toBe('modbus_exception');
  });

  it('marks one point bad when its registers hold a non-finite float, and not its neighbours', async () => {
    const device = fakeDevice({ input: [100, 0x7fc0, 0x0000], holding: [44, 2] }, [true]);
    const { samples, errors } = await pollAsset(device, 1, profile, buildReadPlan(profile), () => 1);
    expect(samples.find((s) => s.point === 'power')).toMatchObject({ value: null, quality: Quality.bad });
    expect(samples.find((s) => s.point === 'supply_temp')).toMatchObject({ value: 10, quality: Quality.good });
    expect(errors.map((e) => e.error.code)).toEqual(['register_not_finite']);
  });

  it('does not throw when the device throws something unexpected', async () => {
    const device = fakeDevice(regs, [true]);
    device.readHoldingRegisters = async () => {
      throw new TypeError('boom');
    };
    const { samples, errors } = await pollAsset(device, 1, profile, buildReadPlan(profile), () => 1);
    expect(samples.filter((s) => s.quality === Quality.bad).map((s) => s.point)).toEqual(['setpoint', 'mode']);
    expect(errors[0]!.error.code).toBe('modbus_connection_failed');
  });

  it('polls only the fast points with a fast plan', async () => {
    const device = fakeDevice(regs, [true]);
    const { samples } = await pollAsset(device, 1, profile, buildReadPlan(profile, { onlyFast: true }), () => 1);
    expect(samples.map((s) => s.point)).toEqual(['door_open']);
    expect(device.calls).toEqual(['discrete']);
  });

  it('refuses a plan built for another profile', async () => {
    const other = parseModbusProfile('id: other\ntype: ahu\npoints:\n  - { name: x, table: coil, address: 0 }');
    await expect(pollAsset(fakeDevice(regs, []), 1, profile, buildReadPlan(other), () => 1)).rejects.toMatchObject({ code: 'poll_plan_mismatch' });
  });
});
