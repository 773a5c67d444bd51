/**
 * Patlite PNS ("PATLITE Network Signal") operation control command, and the Andon states the
 * guardian shows on a panel's signal tower. Pure: no I/O, so the guardian (which sends), the
 * simulator (which plays the tower) and the server (which decides the state) share one codec.
 *
 * Operation control frame, 12 bytes, multi-byte fields big-endian:
 *
 * | offset | bytes | field                                   |
 * |--------|-------|-----------------------------------------|
 * | 0      | 2     | product category, 'XX' (0x58 0x58)      |
 * | 2      | 1     | command identifier, 'S' (0x53)          |
 * | 3      | 1     | empty, 0x00                             |
 * | 4      | 2     | data size, 0x0006                       |
 * | 6      | 5     | red, amber, green, blue, white lamps    |
 * | 11     | 1     | buzzer                                  |
 *
 * Lamps: 0x00 off, 0x01 on, 0x02 flash pattern 1, 0x03 flash pattern 2, 0x09 no change.
 * Buzzer: 0x00 stop, 0x01-0x04 patterns 1-4, 0x09 no change.
 * The tower answers each frame with one byte: ACK 0x06 or NAK 0x15.
 *
 * This is our profile of PNS, stricter than the devices: Patlite's own LR5-LAN/LA6 samples use
 * product category 'AB' (0x41 0x42) and accept lamp patterns 0x04-0x07 too (faster blinks,
 * single/double/triple flashes). Check a real tower's manual before pointing the guardian at it;
 * the category is the one constant PNS_PRODUCT_CATEGORY.
 */
import { ProtocolError } from './errors.ts';

export const PNS_ACK = 0x06;
export const PNS_NAK = 0x15;

/** Product category, command identifier and the empty byte that open every operation control frame. */
export const PNS_PRODUCT_CATEGORY = [0x58, 0x58] as const;
export const PNS_OPERATION_CONTROL = 0x53;
/** Bytes 0-2, 'XXS': what a receiver looks for to find the start of a frame. */
export const PNS_FRAME_START: readonly number[] = [...PNS_PRODUCT_CATEGORY, PNS_OPERATION_CONTROL];
export const PNS_HEADER_LENGTH = 6;
export const PNS_DATA_SIZE = 6;
export const PNS_FRAME_LENGTH = PNS_HEADER_LENGTH + PNS_DATA_SIZE;

export const PNS_LAMPS = ['red', 'amber', 'green', 'blue', 'white'] as const;
export type PnsLampColour = (typeof PNS_LAMPS)[number];

/** What a lamp shows. */
export type PnsLamp = 'off' | 'on' | 'flash-1' | 'flash-2';
/** What a command asks of a lamp: a pattern, or leave it as it is. */
export type PnsLampCommand = PnsLamp | 'no-change';
/** What the buzzer sounds. */
export type PnsBuzzer = 'stop' | 'pattern-1' | 'pattern-2' | 'pattern-3' | 'pattern-4';
export type PnsBuzzerCommand = PnsBuzzer | 'no-change';

/** One operation control command: every lamp and the buzzer. */
export interface PnsCommand {
  red: PnsLampCommand;
  amber: PnsLampCommand;
  green: PnsLampCommand;
  blue: PnsLampCommand;
  white: PnsLampCommand;
  buzzer: PnsBuzzerCommand;
}

const LAMP_BYTES: Readonly<Record<PnsLampCommand, number>> = { off: 0x00, on: 0x01, 'flash-1': 0x02, 'flash-2': 0x03, 'no-change': 0x09 };
const BUZZER_BYTES: Readonly<Record<PnsBuzzerCommand, number>> = {
  stop: 0x00, 'pattern-1': 0x01, 'pattern-2': 0x02, 'pattern-3': 0x03, 'pattern-4': 0x04, 'no-change': 0x09,
};
const LAMP_BY_BYTE = new Map(Object.entries(LAMP_BYTES).map(([k, v]) => [v, k as PnsLampCommand]));
const BUZZER_BY_BYTE = new Map(Object.entries(BUZZER_BYTES).map(([k, v]) => [v, k as PnsBuzzerCommand]));

/** Data bytes 6-11, in frame order. */
const DATA_FIELDS = [...PNS_LAMPS, 'buzzer'] as const;
type DataField = (typeof DATA_FIELDS)[number];

export type PnsErrorCode =
  /** The buffer is not exactly one 12-byte frame (truncated, or trailing bytes). */
  | 'pns_frame_length'
  /** Bytes 0-3 are not 'X' 'X' 'S' 0x00: another product category, another command, or not PNS. */
  | 'pns_header_invalid'
  /** Bytes 4-5 are not 0x0006. */
  | 'pns_data_size'
  /** A lamp or buzzer byte outside the values above (also: a command field that is not one of their names). */
  | 'pns_value_invalid'
  /** A name that is not one of ANDON_STATES. */
  | 'andon_state_unknown';

export interface PnsErrorDetails {
  /** Byte offset in the frame the error is about. */
  offset?: number;
  /** The byte found there. */
  byte?: number;
  /** Which field the offset belongs to. */
  field?: string;
  [key: string]: unknown;
}

/** A PNS frame or command that is not what this profile accepts. */
export class PnsError extends ProtocolError {
  declare readonly code: PnsErrorCode;
  declare readonly details: PnsErrorDetails;

  constructor(code: PnsErrorCode, message: string, details: PnsErrorDetails = {}) {
    super(code, message, details);
  }
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

/** The operation control frame for `cmd`. Throws `PnsError` (`pns_value_invalid`) for an unknown pattern name. */
export function encodePnsCommand(cmd: PnsCommand): Buffer {
  if (typeof cmd !== 'object' || cmd === null) {
    throw new PnsError('pns_value_invalid', 'a PNS command must be an object with red, amber, green, blue, white and buzzer');
  }
  const frame = Buffer.alloc(PNS_FRAME_LENGTH);
  frame[0] = PNS_PRODUCT_CATEGORY[0];
  frame[1] = PNS_PRODUCT_CATEGORY[1];
  frame[2] = PNS_OPERATION_CONTROL;
  frame[3] = 0x00;
  frame.writeUInt16BE(PNS_DATA_SIZE, 4);
  DATA_FIELDS.forEach((field, i) => {
    const offset = PNS_HEADER_LENGTH + i;
    const name: unknown = cmd[field];
    const table: Readonly<Record<string, number>> = field === 'buzzer' ? BUZZER_BYTES : LAMP_BYTES;
    // Own keys only: a name like "constructor" or "__proto__" must not find a prototype's member.
    if (typeof name !== 'string' || !Object.hasOwn(table, name)) {
      throw new PnsError('pns_value_invalid', `${field} (byte offset ${offset}) must be one of ${Object.keys(table).join(', ')}; got ${String(name)}`,
        { offset, field });
    }
    frame[offset] = table[name]!;
  });
  return frame;
}

/**
 * The command in one operation control frame. Strict: exactly 12 bytes, the 'XXS' 0x00 header,
 * data size 6 and every data byte in range, or a `PnsError` naming the first offending byte.
 * A buffer this accepts re-encodes to the same bytes.
 */
export function decodePnsCommand(bytes: Uint8Array): PnsCommand {
  const checked = Math.min(bytes.length, PNS_FRAME_LENGTH);
  const header = [...PNS_FRAME_START, 0x00];
  for (let offset = 0; offset < Math.min(checked, header.length); offset++) {
    const byte = bytes[offset]!;
    if (byte !== header[offset]) {
      const field = offset < 2 ? 'product category' : offset === 2 ? 'command identifier' : 'empty byte';
      throw new PnsError('pns_header_invalid', `byte offset ${offset} (${field}) is ${hex(byte)}, expected ${hex(header[offset]!)}`,
        { offset, byte, field });
    }
  }
  if (checked >= PNS_HEADER_LENGTH) {
    const size = (bytes[4]! << 8) | bytes[5]!;
    if (size !== PNS_DATA_SIZE) {
      throw new PnsError('pns_data_size', `byte offset 4 (data size) is ${size}, expected ${PNS_DATA_SIZE}`,
        { offset: 4, field: 'data size', size });
    }
  }
  const out: Partial<Record<DataField, string>> = {};
  for (let offset = PNS_HEADER_LENGTH; offset < checked; offset++) {
    const field = DATA_FIELDS[offset - PNS_HEADER_LENGTH]!;
    const byte = bytes[offset]!;
    const name = field === 'buzzer' ? BUZZER_BY_BYTE.get(byte) : LAMP_BY_BYTE.get(byte);
    if (name === undefined) {
      const allowed = field === 'buzzer' ? '0x00-0x04 or 0x09' : '0x00-0x03 or 0x09';
      throw new PnsError('pns_value_invalid', `byte offset ${offset} (${field}) is ${hex(byte)}, expected ${allowed}`, { offset, byte, field });
    }
    out[field] = name;
  }
  if (bytes.length !== PNS_FRAME_LENGTH) {
    const offset = Math.min(bytes.length, PNS_FRAME_LENGTH);
    const what = bytes.length < PNS_FRAME_LENGTH ? 'ends early' : 'has trailing bytes';
    throw new PnsError('pns_frame_length', `frame ${what} at byte offset ${offset}: ${bytes.length} bytes, expected ${PNS_FRAME_LENGTH}`,
      { offset, length: bytes.length });
  }
  return out as unknown as PnsCommand;
}

/** What a panel's tower says to the people around it. */
export const ANDON_STATES = ['idle', 'released', 'in-progress', 'step-done', 'deviation', 'stop', 'complete', 'intrusion'] as const;
export type AndonState = (typeof ANDON_STATES)[number];

export function isAndonState(value: unknown): value is AndonState {
  return typeof value === 'string' && (ANDON_STATES as readonly string[]).includes(value);
}

function tower(lit: Partial<PnsCommand>): Readonly<PnsCommand> {
  return Object.freeze({ red: 'off', amber: 'off', green: 'off', blue: 'off', white: 'off', buzzer: 'stop', ...lit });
}

/**
 * The tower for each Andon state. Every state sets every lamp and the buzzer (never 'no-change'),
 * so a tower that missed a frame shows the right thing after the next one.
 *
 * | state       | red     | amber   | green   | blue | white | buzzer    | meaning                                  |
 * |-------------|---------|---------|---------|------|-------|-----------|------------------------------------------|
 * | idle        | off     | off     | off     | off  | off   | stop      | no work order                            |
 * | released    | off     | off     | off     | on   | off   | stop      | "this is your panel"                     |
 * | in-progress | off     | flash-1 | off     | on   | off   | stop      | a step is being worked                   |
 * | step-done   | off     | off     | on      | on   | off   | stop      | the step is done, go on                  |
 * | deviation   | flash-1 | off     | off     | off  | off   | pattern-1 | off-procedure: klaxon                    |
 * | stop        | on      | off     | off     | off  | on    | stop      | stop work, wait for the supervisor       |
 * | complete    | off     | off     | flash-2 | off  | off   | stop      | work order complete                      |
 * | intrusion   | flash-2 | off     | off     | off  | off   | pattern-2 | door opened with no work order released  |
 */
export const ANDON_COMMANDS: Readonly<Record<AndonState, Readonly<PnsCommand>>> = Object.freeze({
  idle: tower({}),
  released: tower({ blue: 'on' }),
  'in-progress': tower({ blue: 'on', amber: 'flash-1' }),
  'step-done': tower({ blue: 'on', green: 'on' }),
  deviation: tower({ red: 'flash-1', buzzer: 'pattern-1' }),
  stop: tower({ red: 'on', white: 'on', buzzer: 'stop' }),
  complete: tower({ green: 'flash-2', buzzer: 'stop' }),
  intrusion: tower({ red: 'flash-2', buzzer: 'pattern-2' }),
});

/**
 * The PNS command for an Andon state (see ANDON_COMMANDS for the table).
 * Throws `PnsError` (`andon_state_unknown`) for a name that is not an Andon state.
 *
 * @example encodePnsCommand(andonCommand('released')) // 58 58 53 00 00 06 00 00 00 01 00 00
 */
export function andonCommand(state: AndonState): PnsCommand {
  if (!isAndonState(state)) {
    throw new PnsError('andon_state_unknown', `${String(state)} is not an Andon state (${ANDON_STATES.join(', ')})`, { state });
  }
  return { ...ANDON_COMMANDS[state] };
}

/** The operation control frame for an Andon state. */
export function encodeAndon(state: AndonState): Buffer {
  return encodePnsCommand(andonCommand(state));
}
