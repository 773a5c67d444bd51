import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ModbusError } from '../../../src/drivers/modbus/errors.ts';
import { encodeRequest, type ReadRequest } from '../../../src/drivers/modbus/pdu.ts';
import { ModbusTcpClient } from '../../../src/drivers/modbus/tcp-client.ts';
import { adu, registerDevice, splitAdus, startScriptedServer, type ScriptedServer } from './loopback-server.ts';

/** A port in our range with nothing listening on it. */
const CLOSED_PORT = 16001;

let server: ScriptedServer | undefined;
let client: ModbusTcpClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

async function failure(p: Promise<unknown>): Promise<ModbusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ModbusError) return err;
    throw new Error(`expected a ModbusError, got ${String(err)}`);
  }
  throw new Error('expected the request to fail');
}

describe('ModbusTcpClient', () => {
  it('reads registers with a well-formed MBAP header (protocol 0, length, unit id)', async () => {
    server = await startScriptedServer(0, registerDevice());
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port });
    expect(await client.readHoldingRegisters(7, 10, 3)).toEqual([100, 110, 120]);
    expect(await client.readInputRegisters(7, 0, 2)).toEqual([0, 10]);
    const wire = server.received();
    expect([...wire.subarray(2, 7)]).toEqual([0, 0, 0, 6, 7]);
    const frames = splitAdus(wire);
    expect(frames.map((f) => [...f.pdu])).toEqual([
      [3, 0, 10, 0, 3],
      [4, 0, 0, 0, 2],
    ]);
    expect(frames[1]!.transactionId).not.toBe(frames[0]!.transactionId);
  });

  it('keeps exactly one request in flight per connection', async () => {
    let outstanding = 0;
    let most = 0;
    const device = registerDevice((_req, answer) => {
      setTimeout(() => {
        outstanding--;
        serverSocketWrite(answer);
      }, 5);
      return null;
    });
    let serverSocketWrite: (b: Buffer) => void = () => {};
    server = await startScriptedServer(0, (socket, chunk) => {
      serverSocketWrite = (b) => socket.write(b);
      outstanding += splitAdus(chunk).length;
      most = Math.max(most, outstanding);
      device(socket, chunk);
    });
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port });
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => client!.readHoldingRegisters(1, i, 1)));
    expect(results).toEqual([[0], [10], [20], [30], [40], [50]]);
    expect(most).toBe(1);
    expect(server.connections()).toBe(1);
  });

  it('reassembles a response split across TCP segments, byte by byte', async () => {
    let segments = 0;
    const device = registerDevice((_req, answer) => {
      const bytes = [...answer];
      const next = (): void => {
        const b = bytes.shift();
        if (b === undefined) return;
        segments++;
        peer!.write(Buffer.from([b]), () => setTimeout(next, 2));
      };
      next();
      return null;
    });
    let peer: import('node:net').Socket | undefined;
    server = await startScriptedServer(0, (socket, chunk) => {
      peer = socket;
      device(socket, chunk);
    });
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port });
    expect(await client.readHoldingRegisters(1, 3, 4)).toEqual([30, 40, 50, 60]);
    expect(segments).toBe(7 + 2 + 8);
  });

  it('answers from a coalesced segment, and drops the connection when it carries an unsolicited frame', async () => {
    server = await startScriptedServer(
      0,
      registerDevice((req, answer) => Buffer.concat([answer, adu(req.transactionId + 100, req.unitId, [3, 2, 0, 1])])),
    );
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port, backoffInitialMs: 0 });
    expect(await client.readHoldingRegisters(1, 2, 1)).toEqual([20]);
    expect(client.unmatchedFrames).toBe(1);
    expect(await client.readHoldingRegisters(1, 3, 1)).toEqual([30]);
    expect(server.connections()).toBe(2);
  });

  it('reports an exception response as modbus_exception and keeps the connection', async () => {
    server = await startScriptedServer(
      0,
      registerDevice((req, answer) => (req.pdu.readUInt16BE(1) === 999 ? adu(req.transactionId, req.unitId, [0x83, 0x02]) : answer)),
    );
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port });
    const err = await failure(client.readHoldingRegisters(1, 999, 1));
    expect(err.code).toBe('modbus_exception');
    expect(err.details.exceptionName).toBe('IllegalDataAddress');
    expect(await client.readHoldingRegisters(1, 1, 1)).toEqual([10]);
    expect(server.connections()).toBe(1);
  });

  it('reports a malformed response PDU as an error for that request only', async () => {
    server = await startScriptedServer(
      0,
      registerDevice((req, answer) => (req.pdu.readUInt16BE(1) === 5 ? adu(req.transactionId, req.unitId, [0x03, 0x04, 0, 1]) : answer)),
    );
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port });
    expect((await failure(client.readHoldingRegisters(1, 5, 2))).code).toBe('modbus_response_invalid');
    expect(await client.readHoldingRegisters(1, 6, 1)).toEqual([60]);
  });

  it('refuses a response from another unit id or transaction, then reconnects', async () => {
    let n = 0;
    server = await startScriptedServer(
      0,
      registerDevice((req, answer) => {
        n++;
        if (n === 1) return adu(req.transactionId, req.unitId + 1, [3, 2, 0, 0]);
        if (n === 2) return adu(req.transactionId ^ 0x5555, req.unitId, [3, 2, 0, 0]);
        return answer;
      }),
    );
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port, backoffInitialMs: 0 });
    expect((await failure(client.readHoldingRegisters(1, 0, 1))).code).toBe('modbus_frame_invalid');
    expect((await failure(client.readHoldingRegisters(1, 0, 1))).code).toBe('modbus_frame_invalid');
    expect(await client.readHoldingRegisters(1, 4, 1)).toEqual([40]);
    expect(server.connections()).toBe(3);
  });

  it('times out a silent device, drops the connection and reconnects on the next request', async () => {
    let silent = true;
    server = await startScriptedServer(0, registerDevice((_req, answer) => (silent ? null : answer)));
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 100, backoffInitialMs: 0 });
    expect((await failure(client.readHoldingRegisters(1, 0, 1))).code).toBe('modbus_timeout');
    silent = false;
    expect(await client.readHoldingRegisters(1, 1, 1)).toEqual([10]);
    expect(server.connections()).toBe(2);
  });

  it('backs off after a failed connection, on the injected clock', async () => {
    let t = 1_000;
    client = new ModbusTcpClient({ host: '127.0.0.1', port: CLOSED_PORT, backoffInitialMs: 500, now: () => t });
    expect((await failure(client.readCoils(1, 0, 1))).code).toBe('modbus_connection_failed');
    const deferred = await failure(client.readCoils(1, 0, 1));
    expect(deferred.code).toBe('modbus_backing_off');
    expect(deferred.details.retryInMs).toBe(500);
    t += 500;
    expect((await failure(client.readCoils(1, 0, 1))).code).toBe('modbus_connection_failed');
    t += 999; // second failure doubles the delay to 1000 ms
    expect((await failure(client.readCoils(1, 0, 1))).code).toBe('modbus_backing_off');
  });

  it.each([
    ['a huge length field', Buffer.from([0, 1, 0, 0, 0xff, 0xff, 1, 3])],
    ['a non-zero protocol id', Buffer.from([0, 1, 0x12, 0x34, 0, 5, 1, 3, 2, 0, 0])],
    ['a zero length field', Buffer.from([0, 1, 0, 0, 0, 0, 1])],
    ['HTTP', Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')],
  ])('closes the connection on %s', async (_name, hostile) => {
    let closedByClient = false;
    server = await startScriptedServer(0, (socket) => {
      socket.on('end', () => (closedByClient = true));
      socket.on('close', () => (closedByClient = true));
      socket.write(hostile);
    });
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000 });
    expect((await failure(client.readHoldingRegisters(1, 0, 1))).code).toBe('modbus_frame_invalid');
    await expect.poll(() => closedByClient).toBe(true);
  });

  it('survives arbitrary bytes from the peer: every request resolves or fails with a ModbusError', async () => {
    let reply: Buffer = Buffer.alloc(0);
    let framed = false;
    server = await startScriptedServer(0, (socket, chunk) => {
      const [req] = splitAdus(chunk);
      const out = framed && req ? Buffer.concat([adu(req.transactionId, req.unitId, []).subarray(0, 4), lengthPrefix(reply, req.unitId)]) : reply;
      socket.end(out);
    });
    const port = server.port;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.constantFrom(1, 2, 3, 4, 43), async (bytes, asFrame, fnCode) => {
        reply = Buffer.from(bytes);
        framed = asFrame;
        const c = new ModbusTcpClient({ host: '127.0.0.1', port, timeoutMs: 2_000, backoffInitialMs: 0 });
        try {
          const call =
            fnCode === 1 ? c.readCoils(1, 0, 10)
            : fnCode === 2 ? c.readDiscreteInputs(1, 0, 10)
            : fnCode === 3 ? c.readHoldingRegisters(1, 0, 2)
            : fnCode === 4 ? c.readInputRegisters(1, 0, 2)
            : c.readDeviceIdentification(1, 'basic');
          await call.then(
            () => {},
            (err: unknown) => {
              if (!(err instanceof ModbusError)) throw new Error(`untyped failure: ${String(err)}`);
            },
          );
        } finally {
          await c.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('rejects queued requests on close, and every request after it', async () => {
    server = await startScriptedServer(0, () => {});
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port });
    const pending = [client.readHoldingRegisters(1, 0, 1), client.readHoldingRegisters(1, 1, 1)];
    await expect.poll(() => server!.received().length).toBeGreaterThan(0);
    await client.close();
    for (const p of pending) expect((await failure(p)).code).toBe('modbus_client_closed');
    expect((await failure(client.readCoils(1, 0, 1))).code).toBe('modbus_client_closed');
  });
});

/** MBAP length + unit id + body, for the fuzz server's "framed" replies. */
function lengthPrefix(body: Buffer, unitId: number): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt16BE(Math.min(0xffff, body.length + 1), 0);
  head.writeUInt8(unitId, 2);
  return Buffer.concat([head, body]);
}

describe('read-only enforcement', () => {
  const writes: Array<[string, ReadRequest]> = [
    ['5 (write single coil)', { functionCode: 5, address: 0, value: 0xff00 } as unknown as ReadRequest],
    ['6 (write single register)', { functionCode: 6, address: 0, value: 1234 } as unknown as ReadRequest],
    ['15 (write multiple coils)', { functionCode: 15, address: 0, quantity: 8, values: [1, 0, 1] } as unknown as ReadRequest],
    ['16 (write multiple registers)', { functionCode: 16, address: 0, quantity: 2, values: [1, 2] } as unknown as ReadRequest],
    ['22 (mask write register)', { functionCode: 22, address: 0, andMask: 0, orMask: 0xffff } as unknown as ReadRequest],
    ['23 (read/write multiple registers)', { functionCode: 23, address: 0, quantity: 1 } as unknown as ReadRequest],
    ['8 (diagnostics)', { functionCode: 8, subFunction: 1 } as unknown as ReadRequest],
  ];

  it.each(writes)('refuses function %s in encodeRequest, and the device receives zero bytes', async (_name, req) => {
    server = await startScriptedServer(0);
    client = new ModbusTcpClient({ host: '127.0.0.1', port: server.port });
    let err: unknown;
    try {
      encodeRequest(req);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModbusError);
    expect((err as ModbusError).code).toBe('modbus_function_refused');
    // The client offers no other way to build a request: its only requests are the read methods.
    expect(Object.getOwnPropertyNames(ModbusTcpClient.prototype).sort()).toEqual(
      ['close', 'constructor', 'readCoils', 'readDeviceIdentification', 'readDiscreteInputs', 'readHoldingRegisters', 'readInputRegisters'].sort(),
    );
    // Out-of-spec reads are refused before a connection is even opened.
    for (const attempt of [client.readHoldingRegisters(1, 0, 126), client.readCoils(1, 65535, 2), client.readInputRegisters(256, 0, 1)]) {
      expect((await failure(attempt)).code).toBe('modbus_request_invalid');
    }
    await client.close();
    expect(server.connections()).toBe(0);
    expect(server.received().length).toBe(0);
  });
});
