import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ModbusError } from '../../../src/drivers/modbus/errors.ts';
import {
  encodeRequest,
  parseBitsResponse,
  parseDeviceIdentificationResponse,
  parseRegistersResponse,
  type ReadRequest,
} from '../../../src/drivers/modbus/pdu.ts';

function refusedCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ModbusError ? err.code : `not a ModbusError: ${String(err)}`;
  }
  return undefined;
}

describe('encodeRequest', () => {
  it('encodes the four read functions per the Modbus PDU layout', () => {
    expect([...encodeRequest({ functionCode: 1, address: 0x0013, quantity: 0x13 }).bytes]).toEqual([0x01, 0x00, 0x13, 0x00, 0x13]);
    expect([...encodeRequest({ functionCode: 2, address: 0x00c4, quantity: 0x16 }).bytes]).toEqual([0x02, 0x00, 0xc4, 0x00, 0x16]);
    expect([...encodeRequest({ functionCode: 3, address: 0x006b, quantity: 3 }).bytes]).toEqual([0x03, 0x00, 0x6b, 0x00, 0x03]);
    expect([...encodeRequest({ functionCode: 4, address: 0x0008, quantity: 1 }).bytes]).toEqual([0x04, 0x00, 0x08, 0x00, 0x01]);
  });

  it('encodes read device identification (43/14)', () => {
    const req = encodeRequest({ functionCode: 43, meiType: 14, readDeviceIdCode: 1, objectId: 0 });
    expect([...req.bytes]).toEqual([0x2b, 0x0e, 0x01, 0x00]);
  });

  it.each([5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 0, 0x81, 255, 256, -1, 1.5])('refuses function code %s', (code) => {
    const req = { functionCode: code, address: 0, quantity: 1, value: 0xff00, values: [1] } as unknown as ReadRequest;
    expect(refusedCode(() => encodeRequest(req))).toBe('modbus_function_refused');
  });

  it('refuses malformed requests and non-objects as refused functions, never with a TypeError', () => {
    for (const req of [null, undefined, 3, 'read', {}, { functionCode: '3' }]) {
      expect(refusedCode(() => encodeRequest(req as unknown as ReadRequest))).toBe('modbus_function_refused');
    }
  });

  it('refuses function 43 with any MEI type but 14 (13 is CANopen, which can write)', () => {
    for (const meiType of [13, 0, 15, undefined]) {
      const req = { functionCode: 43, meiType, readDeviceIdCode: 1, objectId: 0 } as unknown as ReadRequest;
      expect(refusedCode(() => encodeRequest(req))).toBe('modbus_function_refused');
    }
  });

  it('enforces the quantity and address limits (2000 bits, 125 registers, address + quantity ≤ 65536)', () => {
    expect(encodeRequest({ functionCode: 1, address: 0, quantity: 2000 }).bytes.readUInt16BE(3)).toBe(2000);
    expect(encodeRequest({ functionCode: 3, address: 65411, quantity: 125 }).bytes.readUInt16BE(1)).toBe(65411);
    const invalid: ReadRequest[] = [
      { functionCode: 1, address: 0, quantity: 2001 },
      { functionCode: 2, address: 0, quantity: 0 },
      { functionCode: 3, address: 0, quantity: 126 },
      { functionCode: 4, address: 65535, quantity: 2 },
      { functionCode: 3, address: -1, quantity: 1 },
      { functionCode: 3, address: 65536, quantity: 1 },
      { functionCode: 3, address: 1.5, quantity: 1 },
      { functionCode: 43, meiType: 14, readDeviceIdCode: 5 as 1, objectId: 0 },
      { functionCode: 43, meiType: 14, readDeviceIdCode: 1, objectId: 256 },
    ];
    for (const req of invalid) expect(refusedCode(() => encodeRequest(req))).toBe('modbus_request_invalid');
  });
});

describe('parseRegistersResponse', () => {
  it('reads big-endian registers', () => {
    expect(parseRegistersResponse(3, 3, Uint8Array.from([0x03, 0x06, 0x02, 0x2b, 0x00, 0x00, 0x00, 0x64]))).toEqual([555, 0, 100]);
  });

  it('turns an exception response into a typed error naming the exception', () => {
    let err: unknown;
    try {
      parseRegistersResponse(3, 1, Uint8Array.from([0x83, 0x02]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModbusError);
    expect((err as ModbusError).code).toBe('modbus_exception');
    expect((err as ModbusError).details).toMatchObject({ exceptionCode: 2, exceptionName: 'IllegalDataAddress' });
  });

  it.each([
    ['empty', []],
    ['wrong function code', [0x04, 0x02, 0x00, 0x01]],
    ['short frame', [0x03, 0x04, 0x00, 0x01]],
    ['long frame', [0x03, 0x02, 0x00, 0x01, 0x00]],
    ['byte count disagrees with quantity', [0x03, 0x04, 0x00, 0x01, 0x00, 0x02]],
    ['exception response with trailing bytes', [0x83, 0x02, 0x00]],
    ['no byte count', [0x03]],
  ])('rejects a %s as modbus_response_invalid', (_name, bytes) => {
    expect(refusedCode(() => parseRegistersResponse(3, 1, Uint8Array.from(bytes)))).toBe('modbus_response_invalid');
  });
});

describe('parseBitsResponse', () => {
  it('reads bits least significant first', () => {
    // §6.1 example: coils 20-38 = CD 6B 05
    const bits = parseBitsResponse(1, 19, Uint8Array.from([0x01, 0x03, 0xcd, 0x6b, 0x05]));
    expect(bits.slice(0, 8)).toEqual([true, false, true, true, false, false, true, true]);
    expect(bits.slice(16)).toEqual([true, false, true]);
  });

  it('rejects a byte count that does not match the quantity', () => {
    expect(refusedCode(() => parseBitsResponse(2, 9, Uint8Array.from([0x02, 0x01, 0xff])))).toBe('modbus_response_invalid');
  });
});

describe('parseDeviceIdentificationResponse', () => {
  it('reads the objects of a page', () => {
    const pdu = Uint8Array.from([0x2b, 0x0e, 0x01, 0x01, 0x00, 0x00, 0x02, 0x00, 0x02, 0x41, 0x42, 0x01, 0x01, 0x43]);
    expect(parseDeviceIdentificationResponse(1, pdu)).toEqual({
      readDeviceIdCode: 1,
      conformityLevel: 1,
      moreFollows: false,
      nextObjectId: 0,
      objects: [
        { id: 0, value: 'AB' },
        { id: 1, value: 'C' },
      ],
    });
  });

  it('rejects objects that run past the end, trailing bytes and a bad more-follows byte', () => {
    const cases = [
      [0x2b, 0x0e, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x05, 0x41],
      [0x2b, 0x0e, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x41, 0x00],
      [0x2b, 0x0e, 0x01, 0x01, 0x01, 0x00, 0x00],
      [0x2b, 0x0d, 0x01, 0x01, 0x00, 0x00, 0x00],
      [0x2b, 0x0e, 0x02, 0x01, 0x00, 0x00, 0x00],
    ];
    for (const c of cases) expect(refusedCode(() => parseDeviceIdentificationResponse(1, Uint8Array.from(c)))).toBe('modbus_response_invalid');
  });
});

describe('response parsers under fuzzing', () => {
  const typedOnly = (fn: () => unknown): boolean => {
    try {
      fn();
      return true;
    } catch (err) {
      return err instanceof ModbusError && ['modbus_response_invalid', 'modbus_exception'].includes(err.code);
    }
  };

  it('throw nothing but typed errors for arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 125 }), (bytes, bits, regs) => {
        return (
          typedOnly(() => parseBitsResponse(1, bits, bytes)) &&
          typedOnly(() => parseBitsResponse(2, bits, bytes)) &&
          typedOnly(() => parseRegistersResponse(3, regs, bytes)) &&
          typedOnly(() => parseRegistersResponse(4, regs, bytes)) &&
          typedOnly(() => parseDeviceIdentificationResponse(1, bytes)) &&
          typedOnly(() => parseDeviceIdentificationResponse(3, bytes))
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('throw nothing but typed errors for near-valid frames (right function code, fuzzed rest)', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 4, 0x81, 0x83, 0x2b, 0xab), fc.uint8Array({ maxLength: 260 }), (code, rest) => {
        const bytes = Uint8Array.from([code, ...rest]);
        return typedOnly(() => parseRegistersResponse(3, 2, bytes)) && typedOnly(() => parseBitsResponse(1, 9, bytes)) && typedOnly(() => parseDeviceIdentificationResponse(2, Uint8Array.from([0x2b, 0x0e, 2, ...rest])));
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trip: a well-formed register response always parses to the values', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 125 }), (values) => {
        const pdu = Buffer.alloc(2 + values.length * 2);
        pdu[0] = 4;
        pdu[1] = values.length * 2;
        values.forEach((v, i) => pdu.writeUInt16BE(v, 2 + i * 2));
        expect(parseRegistersResponse(4, values.length, pdu)).toEqual(values);
      }),
    );
  });
});
