/**
 * Converting between Modbus register words and engineering values, per a profile point.
 * The guardian decodes; the simulator encodes. Both directions are pure functions.
 */
import { ProtocolError } from '../errors.ts';
import type { ProfilePoint } from './profile.ts';
import { engineeringValue, rawValue } from './values.ts';

const view = new DataView(new ArrayBuffer(4));

function rawFromWords(point: ProfilePoint, words: ArrayLike<number>): number {
  const w0 = words[0];
  if (w0 === undefined) throw new ProtocolError('register_short', `no register for ${point.name}`);
  switch (point.type) {
    case 'uint16': return w0 & 0xffff;
    case 'int16': return ((w0 & 0xffff) << 16) >> 16;
    case 'bool': return w0 ? 1 : 0;
    default: {
      const w1 = words[1];
      if (w1 === undefined) throw new ProtocolError('register_short', `${point.name} needs two registers`);
      const [hi, lo] = point.wordOrder === 'big' ? [w0, w1] : [w1, w0];
      view.setUint16(0, hi & 0xffff);
      view.setUint16(2, lo & 0xffff);
      if (point.type === 'uint32') return view.getUint32(0);
      if (point.type === 'int32') return view.getInt32(0);
      return view.getFloat32(0);
    }
  }
}

/** Registers (or a single bit as 0/1) -> engineering value. */
export function decodePointValue(point: ProfilePoint, words: ArrayLike<number>): number | boolean {
  const raw = rawFromWords(point, words);
  if (point.type === 'float32' && !Number.isFinite(raw) && point.kind === 'analog') {
    throw new ProtocolError('register_not_finite', `${point.name} holds a non-finite float`);
  }
  return engineeringValue(point, raw);
}

function clampInt(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(v)));
}

/** Engineering value -> register words (what a device with this register map would hold). */
export function encodePointValue(point: ProfilePoint, value: number | boolean): number[] {
  if (point.type === 'bool') return [value ? 1 : 0];
  const eng = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  const raw = rawValue(point, eng);
  switch (point.type) {
    case 'uint16': return [clampInt(raw, 0, 0xffff)];
    case 'int16': return [clampInt(raw, -0x8000, 0x7fff) & 0xffff];
    default: {
      if (point.type === 'uint32') view.setUint32(0, clampInt(raw, 0, 0xffffffff));
      else if (point.type === 'int32') view.setInt32(0, clampInt(raw, -0x80000000, 0x7fffffff));
      else view.setFloat32(0, raw);
      const hi = view.getUint16(0);
      const lo = view.getUint16(2);
      return point.wordOrder === 'big' ? [hi, lo] : [lo, hi];
    }
  }
}
