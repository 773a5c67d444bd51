/**
 * Every failure of the Modbus driver is a `ModbusError` with a stable code (STYLE.md §5), so the
 * poller can mark the affected points bad and report why without ever catching anything else.
 */
import { ShellguardError } from '@shellguard/protocol';

export type ModbusErrorCode =
  /** A request outside the read-only allow-list (function codes 1, 2, 3, 4 and 43/14). */
  | 'modbus_function_refused'
  /** An allowed function with arguments outside the spec (address, quantity, unit id). */
  | 'modbus_request_invalid'
  /** The device answered with an exception response (function code | 0x80). */
  | 'modbus_exception'
  /** The response PDU is malformed: short, long, wrong byte count, wrong function code. */
  | 'modbus_response_invalid'
  /** The MBAP frame is not Modbus TCP (protocol id, length field) or not ours (transaction/unit id). */
  | 'modbus_frame_invalid'
  /** No response within the request timeout; the connection is dropped. */
  | 'modbus_timeout'
  /** Connecting failed, or the connection was closed or failed while a request was outstanding. */
  | 'modbus_connection_failed'
  /** The previous connection failed recently; the client waits before reconnecting. */
  | 'modbus_backing_off'
  /** `close()` was called. */
  | 'modbus_client_closed';

export class ModbusError extends ShellguardError<ModbusErrorCode> {}

/** Exception codes, Modbus Application Protocol v1.1b3 §7. */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  0x01: 'IllegalFunction',
  0x02: 'IllegalDataAddress',
  0x03: 'IllegalDataValue',
  0x04: 'ServerDeviceFailure',
  0x05: 'Acknowledge',
  0x06: 'ServerDeviceBusy',
  0x08: 'MemoryParityError',
  0x0a: 'GatewayPathUnavailable',
  0x0b: 'GatewayTargetDeviceFailedToRespond',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? `Unknown(0x${code.toString(16).padStart(2, '0')})`;
}
