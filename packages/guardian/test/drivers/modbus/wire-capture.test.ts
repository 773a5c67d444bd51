/**
 * Read-only on the wire (ARCHITECTURE.md §2): a packet capture of the guardian's Modbus traffic,
 * taken by tshark while it polls an independent server and while writes are attempted, contains
 * only the allowed function codes 1, 2, 3, 4 and 43.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModbusError } from '../../../src/drivers/modbus/errors.ts';
import { encodeRequest, type ReadRequest } from '../../../src/drivers/modbus/pdu.ts';
import { ModbusTcpClient } from '../../../src/drivers/modbus/tcp-client.ts';
import { buildReadPlan } from '../../../src/drivers/modbus/read-plan.ts';
import { pollAsset } from '../../../src/drivers/modbus/poller.ts';
import { INTEROP_PROFILE, startPymodbusServer, type PymodbusServer } from './pymodbus-server.ts';
import { hasTshark, startCapture, warnIfNoTshark, type Capture } from '../packet-capture.ts';

const PORT = 16200;
warnIfNoTshark('wire-capture');

function capturedFunctionCodes(capture: Capture): number[] {
  return capture.read(['-d', `tcp.port==${PORT},mbtcp`, '-Y', 'modbus', '-T', 'fields', '-e', 'modbus.func_code'])
    .split(/[\s,]+/).filter((s) => s.length > 0).map(Number);
}

describe.skipIf(!hasTshark)('Modbus traffic on the wire (tshark capture)', () => {
  let dir: string;
  let pymodbus: PymodbusServer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shellguard-capture-'));
    pymodbus = await startPymodbusServer(PORT);
  });

  afterAll(async () => {
    await pymodbus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries only function codes 1, 2, 3, 4 and 43 while polling and while writes are attempted', async () => {
    const file = path.join(dir, 'modbus.pcap');
    const capture = await startCapture(file, `tcp port ${PORT}`);
    const client = new ModbusTcpClient({ host: '127.0.0.1', port: PORT });
    const plan = buildReadPlan(INTEROP_PROFILE);
    const fastPlan = buildReadPlan(INTEROP_PROFILE, { onlyFast: true });
    let requests = 0;
    const refused: string[] = [];
    try {
      for (let round = 0; round < 10; round++) {
        const full = await pollAsset(client, 1, INTEROP_PROFILE, plan, Date.now);
        const fast = await pollAsset(client, 1, INTEROP_PROFILE, fastPlan, Date.now);
        expect(full.errors).toEqual([]);
        expect(fast.errors).toEqual([]);
        requests += plan.blocks.length + fastPlan.blocks.length;
        // Attempted writes, interleaved with the polls: refused before any byte is built.
        for (const functionCode of [5, 6, 15, 16, 22, 23, 8]) {
          try {
            encodeRequest({ functionCode, address: 0, quantity: 1, value: 1 } as unknown as ReadRequest);
          } catch (err) {
            if (err instanceof ModbusError) refused.push(err.code);
          }
        }
      }
      await client.readDeviceIdentification(1, 'basic');
      requests++;
      await client.close();
      // dumpcap hands packets over in batches: wait until the file holds every request and its
      // response before stopping, or the last batch may be lost.
      await expect.poll(() => capturedFunctionCodes(capture).length, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(2 * requests);
    } finally {
      await client.close();
      await capture.stop();
    }
    expect(refused).toEqual(Array.from({ length: 70 }, () => 'modbus_function_refused'));

    const codes = capturedFunctionCodes(capture);
    // every request and its response are in the capture
    expect(codes.length).toBeGreaterThanOrEqual(2 * requests);
    expect(new Set(codes)).toEqual(new Set([1, 2, 3, 4, 43]));
  });
});
