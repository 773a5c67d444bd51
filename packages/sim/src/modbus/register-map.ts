/**
 * Lays an asset's values out in Modbus tables exactly as its equipment profile says, so that a
 * reader using the same profile decodes them back (Modbus Application Protocol v1.1b3 §4.3-4.4:
 * four tables, zero-based PDU addresses).
 */
import { encodePointValue, registerCount, type ModbusProfile, type ModbusTable, type ProfilePoint } from '@shellguard/protocol';
import { SimError } from '../errors.ts';
import type { PointValues } from '../physics/types.ts';

/** Modbus exception codes (MAP v1.1b3 §7). */
export const ILLEGAL_DATA_ADDRESS = 0x02;
export const SERVER_DEVICE_FAILURE = 0x04;

/** Thrown to modbus-serial's server, which answers with the exception code. */
export class ModbusException extends SimError {
  readonly modbusErrorCode: number;

  constructor(modbusErrorCode: number, message: string, details: Record<string, unknown> = {}) {
    super(modbusErrorCode === ILLEGAL_DATA_ADDRESS ? 'illegal_data_address' : 'server_device_failure', message, details);
    this.modbusErrorCode = modbusErrorCode;
  }
}

interface Slot {
  point: ProfilePoint;
  /** Which word of the point's encoding sits at this address. */
  word: number;
}

interface TableIndex {
  slots: Map<number, Slot>;
  first: number;
  last: number;
}

export class RegisterMap {
  readonly profile: ModbusProfile;
  private readonly tables = new Map<ModbusTable, TableIndex>();

  constructor(profile: ModbusProfile) {
    this.profile = profile;
    for (const point of profile.points) {
      let t = this.tables.get(point.table);
      if (!t) {
        t = { slots: new Map(), first: Number.POSITIVE_INFINITY, last: -1 };
        this.tables.set(point.table, t);
      }
      const n = registerCount(point.type);
      for (let w = 0; w < n; w++) t.slots.set(point.address + w, { point, word: w });
      t.first = Math.min(t.first, point.address);
      t.last = Math.max(t.last, point.address + n - 1);
    }
  }

  /**
   * Words of a register range. Addresses outside the profile's span of the table are an
   * ILLEGAL DATA ADDRESS; gaps inside the span read as 0, as many devices do, so a reader may
   * fetch a whole block in one request.
   */
  words(table: 'input' | 'holding', address: number, count: number, values: Readonly<PointValues>): number[] {
    const t = this.span(table, address, count);
    const encoded = new Map<ProfilePoint, number[]>();
    const out: number[] = [];
    for (let a = address; a < address + count; a++) {
      const slot = t.slots.get(a);
      if (!slot) {
        out.push(0);
        continue;
      }
      let words = encoded.get(slot.point);
      if (!words) {
        words = encodePointValue(slot.point, valueOf(slot.point, values));
        encoded.set(slot.point, words);
      }
      out.push(words[slot.word] ?? 0);
    }
    return out;
  }

  bit(table: 'coil' | 'discrete', address: number, values: Readonly<PointValues>): boolean {
    const t = this.span(table, address, 1);
    const slot = t.slots.get(address);
    return slot ? encodePointValue(slot.point, valueOf(slot.point, values))[0] === 1 : false;
  }

  private span(table: ModbusTable, address: number, count: number): TableIndex {
    const t = this.tables.get(table);
    if (!t || count < 1 || address < t.first || address + count - 1 > t.last) {
      throw new ModbusException(ILLEGAL_DATA_ADDRESS, `${this.profile.id} has no ${table} ${address}..${address + count - 1}`, { table, address, count });
    }
    return t;
  }
}

function valueOf(point: ProfilePoint, values: Readonly<PointValues>): number | boolean {
  const v = values[point.name];
  if (v === undefined) throw new ModbusException(SERVER_DEVICE_FAILURE, `no value for ${point.name}`, { point: point.name });
  return v;
}
