/**
 * Modbus PDUs for the read-only driver, per Modbus Application Protocol v1.1b3 (MBAP v1.1b3 §4-§6).
 *
 * This is the lowest layer of the trust model (ARCHITECTURE.md §2): `encodeRequest` is the only
 * function that produces request bytes, and it produces them only for the read functions in
 * `ALLOWED_FUNCTION_CODES`. There is no encoder for any write or diagnostic function at all; a
 * caller that asks for one (fc 5, 6, 8, 15, 16, 22, 23, …) gets `modbus_function_refused`.
 * The TCP client accepts only `EncodedRequest` values, which only this module can construct.
 *
 * The response parsers validate every byte they read and throw nothing but `ModbusError`.
 */
import { ModbusError, exceptionName } from './errors.ts';

export const FunctionCode = {
  readCoils: 0x01,
  readDiscreteInputs: 0x02,
  readHoldingRegisters: 0x03,
  readInputRegisters: 0x04,
  encapsulatedInterfaceTransport: 0x2b,
} as const;

/** MEI type of Read Device Identification inside function 43 (§6.21). Other MEI types are refused. */
export const MEI_READ_DEVICE_IDENTIFICATION = 0x0e;

/** The read-only allow-list. Nothing else is ever encoded. */
export const ALLOWED_FUNCTION_CODES: ReadonlySet<number> = new Set([0x01, 0x02, 0x03, 0x04, 0x2b]);

/** §6.1/§6.2: 1 to 2000 bits per request. §6.3/§6.4: 1 to 125 registers per request. */
export const MAX_READ_BITS = 2000;
export const MAX_READ_REGISTERS = 125;
/** §4.1: a PDU is at most 253 bytes (256-byte RS-485 ADU minus address and CRC). */
export const MAX_PDU_LENGTH = 253;

export type BitFunctionCode = typeof FunctionCode.readCoils | typeof FunctionCode.readDiscreteInputs;
export type RegisterFunctionCode = typeof FunctionCode.readHoldingRegisters | typeof FunctionCode.readInputRegisters;

/** Read device id codes (§6.21): 1 basic stream, 2 regular stream, 3 extended stream, 4 one object. */
export type ReadDeviceIdCode = 1 | 2 | 3 | 4;

export type ReadRequest =
  | { functionCode: BitFunctionCode; address: number; quantity: number }
  | { functionCode: RegisterFunctionCode; address: number; quantity: number }
  | {
      functionCode: typeof FunctionCode.encapsulatedInterfaceTransport;
      meiType: typeof MEI_READ_DEVICE_IDENTIFICATION;
      readDeviceIdCode: ReadDeviceIdCode;
      objectId: number;
    };

const ENCODED = Symbol('EncodedRequest');

/** Request PDU bytes that passed the allow-list. Only `encodeRequest` can make one. */
export class EncodedRequest {
  readonly functionCode: number;
  readonly bytes: Buffer;
  private constructor(token: symbol, functionCode: number, bytes: Buffer) {
    if (token !== ENCODED) throw new ModbusError('modbus_function_refused', 'requests are built only by encodeRequest');
    this.functionCode = functionCode;
    this.bytes = bytes;
  }
  /** @internal */
  static [ENCODED](functionCode: number, bytes: Buffer): EncodedRequest {
    return new EncodedRequest(ENCODED, functionCode, bytes);
  }
}

function invalid(message: string, details: Record<string, unknown>): never {
  throw new ModbusError('modbus_request_invalid', message, details);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function checkRange(fc: number, address: unknown, quantity: unknown, max: number): asserts address is number {
  if (!isInt(address) || address < 0 || address > 0xffff) invalid(`address must be an integer 0-65535`, { functionCode: fc, address });
  if (!isInt(quantity) || quantity < 1 || quantity > max) invalid(`quantity must be an integer 1-${max}`, { functionCode: fc, quantity });
  // §4.4: the addressed range must stay inside the 64 Ki model (address + quantity ≤ 65536).
  if (address + quantity > 0x10000) invalid('address + quantity exceeds 65536', { functionCode: fc, address, quantity });
}

/**
 * The single chokepoint that turns a read request into PDU bytes. Its argument is checked at run
 * time as if it were untyped, because the point is that nothing else can reach the wire.
 */
export function encodeRequest(req: ReadRequest): EncodedRequest {
  const r = req as unknown as Record<string, unknown> | null;
  const fc = typeof r === 'object' && r !== null ? r.functionCode : undefined;
  if (!isInt(fc) || !ALLOWED_FUNCTION_CODES.has(fc)) {
    throw new ModbusError('modbus_function_refused', `function code ${String(fc)} is not on the read-only allow-list (1, 2, 3, 4, 43/14)`, {
      functionCode: fc,
    });
  }
  const rec = r as Record<string, unknown>;
  switch (fc) {
    case FunctionCode.readCoils:
    case FunctionCode.readDiscreteInputs:
    case FunctionCode.readHoldingRegisters:
    case FunctionCode.readInputRegisters: {
      const max = fc <= FunctionCode.readDiscreteInputs ? MAX_READ_BITS : MAX_READ_REGISTERS;
      checkRange(fc, rec.address, rec.quantity, max);
      const bytes = Buffer.alloc(5);
      bytes.writeUInt8(fc, 0);
      bytes.writeUInt16BE(rec.address, 1);
      bytes.writeUInt16BE(rec.quantity as number, 3);
      return EncodedRequest[ENCODED](fc, bytes);
    }
    default: {
      // fc 43 carries several MEI types (e.g. 13, CANopen general reference, can write); only 14.
      if (rec.meiType !== MEI_READ_DEVICE_IDENTIFICATION) {
        throw new ModbusError('modbus_function_refused', `function 43 MEI type ${String(rec.meiType)} is not allowed (only 14)`, {
          functionCode: fc,
          meiType: rec.meiType,
        });
      }
      const code = rec.readDeviceIdCode;
      if (!isInt(code) || code < 1 || code > 4) invalid('read device id code must be 1-4', { functionCode: fc, readDeviceIdCode: code });
      const objectId = rec.objectId;
      if (!isInt(objectId) || objectId < 0 || objectId > 0xff) invalid('object id must be 0-255', { functionCode: fc, objectId });
      return EncodedRequest[ENCODED](fc, Buffer.from([fc, MEI_READ_DEVICE_IDENTIFICATION, code, objectId]));
    }
  }
}

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new ModbusError('modbus_response_invalid', message, details);
}

/**
 * Checks the function code of a response PDU: an exception response (§7: fc | 0x80, one byte of
 * exception code, nothing else) becomes a `modbus_exception` error naming the exception.
 */
function expectFunction(pdu: Uint8Array, fc: number): void {
  if (pdu.length < 1) bad('empty response PDU', { functionCode: fc });
  const got = pdu[0]!;
  if (got === (fc | 0x80)) {
    if (pdu.length !== 2) bad(`exception response must be 2 bytes, got ${pdu.length}`, { functionCode: fc });
    const code = pdu[1]!;
    throw new ModbusError('modbus_exception', `device answered exception ${exceptionName(code)} to function ${fc}`, {
      functionCode: fc,
      exceptionCode: code,
      exceptionName: exceptionName(code),
    });
  }
  if (got !== fc) bad(`response function code ${got} does not match request ${fc}`, { functionCode: fc, received: got });
}

/** §6.1/§6.2 response: fc, byte count N = ceil(quantity / 8), N bytes of bits, LSB first. */
export function parseBitsResponse(fc: BitFunctionCode, quantity: number, pdu: Uint8Array): boolean[] {
  expectFunction(pdu, fc);
  if (pdu.length < 2) bad('response too short for a byte count', { functionCode: fc, length: pdu.length });
  const expected = Math.ceil(quantity / 8);
  const byteCount = pdu[1]!;
  if (byteCount !== expected) bad(`byte count ${byteCount}, expected ${expected} for ${quantity} bits`, { functionCode: fc, byteCount, expected });
  if (pdu.length !== 2 + byteCount) bad(`PDU length ${pdu.length} disagrees with byte count ${byteCount}`, { functionCode: fc, length: pdu.length, byteCount });
  const out = new Array<boolean>(quantity);
  for (let i = 0; i < quantity; i++) out[i] = ((pdu[2 + (i >> 3)]! >> (i & 7)) & 1) === 1;
  return out;
}

/** §6.3/§6.4 response: fc, byte count 2 × quantity, big-endian registers. */
export function parseRegistersResponse(fc: RegisterFunctionCode, quantity: number, pdu: Uint8Array): number[] {
  expectFunction(pdu, fc);
  if (pdu.length < 2) bad('response too short for a byte count', { functionCode: fc, length: pdu.length });
  const expected = quantity * 2;
  const byteCount = pdu[1]!;
  if (byteCount !== expected) bad(`byte count ${byteCount}, expected ${expected} for ${quantity} registers`, { functionCode: fc, byteCount, expected });
  if (pdu.length !== 2 + byteCount) bad(`PDU length ${pdu.length} disagrees with byte count ${byteCount}`, { functionCode: fc, length: pdu.length, byteCount });
  const out = new Array<number>(quantity);
  for (let i = 0; i < quantity; i++) out[i] = (pdu[2 + 2 * i]! << 8) | pdu[3 + 2 * i]!;
  return out;
}

/** One response to Read Device Identification (§6.21); a stream may need several. */
export interface DeviceIdentificationPage {
  readDeviceIdCode: number;
  conformityLevel: number;
  moreFollows: boolean;
  nextObjectId: number;
  objects: Array<{ id: number; value: string }>;
}

/**
 * §6.21 response: 0x2B, 0x0E, read device id code, conformity level, more follows (0x00/0xFF),
 * next object id, number of objects, then per object: id, length, value bytes.
 */
export function parseDeviceIdentificationResponse(readDeviceIdCode: ReadDeviceIdCode, pdu: Uint8Array): DeviceIdentificationPage {
  const fc = FunctionCode.encapsulatedInterfaceTransport;
  expectFunction(pdu, fc);
  if (pdu.length < 7) bad(`device identification response too short (${pdu.length} bytes)`, { functionCode: fc });
  if (pdu[1] !== MEI_READ_DEVICE_IDENTIFICATION) bad(`MEI type ${pdu[1]} in response, expected 14`, { functionCode: fc });
  const code = pdu[2]!;
  if (code !== readDeviceIdCode) bad(`read device id code ${code} in response, expected ${readDeviceIdCode}`, { functionCode: fc });
  const more = pdu[4]!;
  if (more !== 0x00 && more !== 0xff) bad(`more-follows byte must be 0x00 or 0xFF, got ${more}`, { functionCode: fc });
  const count = pdu[6]!;
  const objects: Array<{ id: number; value: string }> = [];
  let at = 7;
  for (let i = 0; i < count; i++) {
    if (at + 2 > pdu.length) bad(`object ${i} of ${count} is cut short`, { functionCode: fc });
    const id = pdu[at]!;
    const len = pdu[at + 1]!;
    if (at + 2 + len > pdu.length) bad(`object 0x${id.toString(16)} claims ${len} bytes beyond the PDU`, { functionCode: fc });
    objects.push({ id, value: Buffer.from(pdu.buffer, pdu.byteOffset + at + 2, len).toString('latin1') });
    at += 2 + len;
  }
  if (at !== pdu.length) bad(`${pdu.length - at} trailing bytes after ${count} objects`, { functionCode: fc });
  return { readDeviceIdCode: code, conformityLevel: pdu[3]!, moreFollows: more === 0xff, nextObjectId: pdu[5]!, objects };
}
