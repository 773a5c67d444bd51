import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Quality } from '@shellguard/protocol';
import { ModbusError } from '../../../src/drivers/modbus/errors.ts';
import { ModbusTcpClient } from '../../../src/drivers/modbus/tcp-client.ts';
import { buildReadPlan } from '../../../src/drivers/modbus/read-plan.ts';
import { pollAsset } from '../../../src/drivers/modbus/poller.ts';
import {
  EXPECTED_VALUES,
  INTEROP_PROFILE,
  SERVED,
  servedBit,
  servedRegister,
  startPymodbusServer,
  type PymodbusServer,
} from './pymodbus-server.ts';

const PORT = 16100;

let pymodbus: PymodbusServer;
let client: ModbusTcpClient;

beforeAll(async () => {
  pymodbus = await startPymodbusServer(PORT);
  client = new ModbusTcpClient({ host: '127.0.0.1', port: PORT });
});

afterAll(async () => {
  await client?.close();
  await pymodbus?.stop();
});

describe('interop with pymodbus (an independent Modbus TCP server)', () => {
  it('reads coils and discrete inputs, up to 2000 bits in one request', async () => {
    const coils = await client.readCoils(1, 0, 2000);
    expect(coils).toEqual(Array.from({ length: 2000 }, (_, a) => servedBit('coils', a)));
    const discrete = await client.readDiscreteInputs(1, 5, 13);
    expect(discrete).toEqual(Array.from({ length: 13 }, (_, i) => servedBit('discrete', 5 + i)));
  });

  it('reads holding and input registers, up to 125 in one request', async () => {
    expect(await client.readHoldingRegisters(1, 0, 125)).toEqual(Array.from({ length: 125 }, (_, a) => servedRegister('holding', a)));
    expect(await client.readInputRegisters(1, 150, 125)).toEqual(Array.from({ length: 125 }, (_, i) => servedRegister('input', 150 + i)));
  });

  it('reads device identification (43/14)', async () => {
    const id = await client.readDeviceIdentification(1, 'regular');
    expect(id.vendorName).toBe(SERVED.identity['0']);
    expect(id.productCode).toBe(SERVED.identity['1']);
    expect(id.majorMinorRevision).toBe(SERVED.identity['2']);
    expect(id.productName).toBe(SERVED.identity['4']);
    expect(id.modelName).toBe(SERVED.identity['5']);
    const basic = await client.readDeviceIdentification(1, 'basic');
    expect([...basic.objects.keys()].sort()).toEqual([0, 1, 2]);
  });

  it('reports an address beyond the device as the IllegalDataAddress exception', async () => {
    let err: unknown;
    try {
      await client.readHoldingRegisters(1, SERVED.registersLength, 10);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModbusError);
    expect((err as ModbusError).code).toBe('modbus_exception');
    expect((err as ModbusError).details.exceptionName).toBe('IllegalDataAddress');
    // and the connection still serves the next request
    expect(await client.readHoldingRegisters(1, 0, 1)).toEqual([235]);
  });

  it('polls a profile into samples carrying the served engineering values', async () => {
    const plan = buildReadPlan(INTEROP_PROFILE);
    const { samples, errors } = await pollAsset(client, 1, INTEROP_PROFILE, plan, () => 1_700_000_000_000);
    expect(errors).toEqual([]);
    expect(samples.every((s) => s.quality === Quality.good && s.ts === 1_700_000_000_000)).toBe(true);
    const values = Object.fromEntries(samples.map((s) => [s.point, s.value]));
    expect(values).toEqual(EXPECTED_VALUES);
    // grouped: coils, discrete, input, holding 0-8, holding 200
    expect(plan.blocks.length).toBe(5);
  });

  it('polls only the fast points on the safety path', async () => {
    const plan = buildReadPlan(INTEROP_PROFILE, { onlyFast: true });
    const { samples } = await pollAsset(client, 1, INTEROP_PROFILE, plan, () => 1);
    expect(samples.map((s) => [s.point, s.value])).toEqual([
      ['door_open', true],
      ['breaker_tripped', false],
      ['power', 1001],
    ]);
  });
});
