import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BitReader } from '../../../src/telemetry/codec/bit-reader.ts';
import { BitWriter } from '../../../src/telemetry/codec/bit-writer.ts';

/** A field of `bits` bits holding `value` (< 2^bits), written by writeBits (≤ 32) or writeWide. */
const field = fc.integer({ min: 0, max: 53 }).chain((bits) =>
  fc.tuple(fc.constant(bits), bits === 0 ? fc.constant(0) : fc.oneof(fc.constant(2 ** bits - 1), fc.constant(0), fc.integer({ min: 0, max: 2 ** Math.min(bits, 53) - 1 }))));

function writeAll(w: BitWriter, fields: [number, number][]): void {
  for (const [bits, value] of fields) {
    if (bits <= 32) w.writeBits(value, bits);
    else w.writeWide(value, bits);
  }
}

describe('BitWriter and BitReader', () => {
  it('read back every field as written, across word boundaries and beyond 32 bits', () => {
    fc.assert(fc.property(fc.array(field, { maxLength: 200 }), (fields) => {
      const w = new BitWriter(8); // tiny start: growth is exercised too
      writeAll(w, fields);
      const total = fields.reduce((sum, [bits]) => sum + bits, 0);
      expect(w.bitLength).toBe(total);
      const bytes = w.finish();
      expect(bytes.length).toBe(Math.ceil(total / 8));
      const r = new BitReader();
      r.reset(bytes);
      for (const [bits, value] of fields) expect(bits <= 32 ? r.readBits(bits) : r.readWide(bits)).toBe(value);
      expect(r.pos).toBe(total);
      expect(r.overrun).toBe(false);
    }));
  });

  it('writes the most significant bit first and pads the last byte with zeros', () => {
    const w = new BitWriter();
    w.writeBits(0b101, 3);
    w.writeBits(0xabcd, 16);
    expect([...w.finish()]).toEqual([0b10110101, 0b01111001, 0b10100000]);
  });

  it('keeps only the low n bits of a wider argument', () => {
    const w = new BitWriter();
    w.writeBits(0xff, 4);
    w.writeBits(-1, 4);
    expect([...w.finish()]).toEqual([0xff]);
  });

  it('rewinds to an earlier length as if nothing had been written after it', () => {
    fc.assert(fc.property(fc.array(field, { maxLength: 60 }), fc.array(field, { maxLength: 60 }), fc.array(field, { maxLength: 60 }), (kept, dropped, after) => {
      const w = new BitWriter(8);
      writeAll(w, kept);
      const mark = w.bitLength;
      writeAll(w, dropped);
      w.rewind(mark);
      writeAll(w, after);
      const expected = new BitWriter(8);
      writeAll(expected, kept);
      writeAll(expected, after);
      expect([...w.finish()]).toEqual([...expected.finish()]);
    }));
  });

  it('reads zeros past the end and reports the overrun', () => {
    const r = new BitReader();
    r.reset(Uint8Array.of(0xff));
    expect(r.readBits(8)).toBe(0xff);
    expect(r.overrun).toBe(false);
    expect(r.readBits(32)).toBe(0);
    expect(r.readWide(53)).toBe(0);
    expect(r.overrun).toBe(true);
    expect(r.remaining).toBe(8 - 93);
  });

  it('peeks 32 bits at any bit offset without consuming them', () => {
    const r = new BitReader();
    r.reset(Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0x9a));
    r.skip(4);
    expect(r.peek32().toString(16)).toBe('23456789');
    expect(r.peek32().toString(16)).toBe('23456789');
    expect(r.readBits(4)).toBe(2);
  });
});
