import { crc32, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CHUNK_SAMPLES, decodeChunk, encodeChunk, type SampleColumns } from '../../../src/telemetry/codec/chunk-codec.ts';
import { BitWriter } from '../../../src/telemetry/codec/bit-writer.ts';
import { TelemetryError } from '../../../src/telemetry/telemetry-error.ts';
import { doorContact, polledTimes, registerTemperatures, sampleColumns, seededRandom, series } from './sample-series.ts';

/** decodeChunk's contract for bytes it accepts (one assertion: forged outputs can be long). */
function expectWellFormed(cols: SampleColumns): void {
  const problems: string[] = [];
  if (cols.ts.length !== cols.count || cols.value.length !== cols.count || cols.quality.length !== cols.count) problems.push('column lengths');
  for (let i = 0; i < cols.count; i++) {
    if (!Number.isSafeInteger(cols.ts[i])) problems.push(`ts[${i}] not a safe integer`);
    if (i > 0 && cols.ts[i]! < cols.ts[i - 1]!) problems.push(`ts[${i}] goes backwards`);
  }
  expect(problems).toEqual([]);
}

function expectRefused(bytes: Uint8Array): void {
  let error: unknown;
  try {
    decodeChunk(bytes);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(TelemetryError);
  expect(error).toMatchObject({ code: 'telemetry_chunk_corrupt' });
}

/** Either a coded refusal or columns that keep decodeChunk's contract — never another failure. */
function expectRefusedOrWellFormed(bytes: Uint8Array): void {
  let decoded;
  try {
    decoded = decodeChunk(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(TelemetryError);
    expect(err).toMatchObject({ code: 'telemetry_chunk_corrupt' });
    return;
  }
  expectWellFormed(decoded);
}

/** Replaces the trailing CRC-32 with the right one for the (forged) body. */
function withValidChecksum(bytes: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  if (out.length >= 4) out.writeUInt32BE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

const random = seededRandom(11);
const ts = polledTimes(1024, random);
const samples = [
  encodeChunk(series(ts, registerTemperatures(1024, random))), // decimal
  encodeChunk(series(ts, ts.map(() => random() * 1e6))), // XOR
  encodeChunk(series(ts, doorContact(1024, random).map((v, i) => (i % 97 < 3 ? NaN : v)), (i) => (i % 97 < 3 ? 0 : 192))), // nulls, quality runs
  encodeChunk(series([-5, 2 ** 52, 2 ** 53 - 1], [1, 2, 3])), // escapes
];
const sampleChunk = fc.constantFrom(...samples);

describe('decodeChunk on damaged bytes', () => {
  it('refuses any change to one byte of a chunk (the CRC-32 catches every burst up to 32 bits)', () => {
    fc.assert(fc.property(sampleChunk, fc.nat(), fc.integer({ min: 1, max: 255 }), (chunk, at, mask) => {
      const damaged = Buffer.from(chunk);
      damaged[at % damaged.length]! ^= mask;
      expectRefused(damaged);
    }), { numRuns: 500 });
  });

  it('refuses a truncated chunk and one with bytes appended', () => {
    for (const chunk of samples) {
      for (let length = 0; length < chunk.length; length += Math.max(1, chunk.length >> 6)) expectRefused(chunk.subarray(0, length));
      expectRefused(Buffer.concat([chunk, Uint8Array.of(0)]));
    }
  });

  it('refuses random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => expectRefusedOrWellFormed(bytes)), { numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => expectRefused(Buffer.concat([Uint8Array.of(2), bytes]))), { numRuns: 300 });
  });

  it('decodes forged chunks with a valid checksum safely: a coded refusal or well-formed columns', () => {
    // Mutations of real chunks reach deep into the stream parsers; the checksum is recomputed so
    // that only the structural checks stand between them and the output.
    const mutated = fc.tuple(sampleChunk, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([chunk, edits]) => {
        const out = Buffer.from(chunk);
        for (const [at, byte] of edits) out[at % (out.length - 4)] = byte;
        return withValidChecksum(out);
      });
    fc.assert(fc.property(mutated, (bytes) => expectRefusedOrWellFormed(bytes)), { numRuns: 1000 });
    const forgedBody = fc.uint8Array({ maxLength: 200 }).map((body) => withValidChecksum(Buffer.concat([Uint8Array.of(2), body, new Uint8Array(4)])));
    fc.assert(fc.property(forgedBody, (bytes) => expectRefusedOrWellFormed(bytes)), { numRuns: 1000 });
  });

  it('decodes re-checksummed chunks of random series, cut at random points, safely', () => {
    fc.assert(fc.property(sampleColumns(), fc.nat(), (cols, cut) => {
      const chunk = encodeChunk(cols);
      const keep = 5 + (cut % Math.max(1, chunk.length - 5));
      expectRefusedOrWellFormed(withValidChecksum(Buffer.concat([chunk.subarray(0, keep), new Uint8Array(4)])));
    }), { numRuns: 300 });
  });

  it('refuses a count above the limit, or beyond what the bytes could hold, without decoding it', () => {
    const forged = (count: number, widthBits: number): Uint8Array => {
      const w = new BitWriter();
      w.writeBits(2, 8); // version
      while (count >= 128) {
        w.writeBits((count % 128) | 128, 8);
        count = Math.floor(count / 128);
      }
      w.writeBits(count, 8);
      w.writeBits(2, 8); // flags: XOR values
      w.writeBits(0, 8); // first timestamp 0
      w.writeBits(0b1, 1); // one quality run…
      w.writeBits(192, 8); // …of 192
      w.writeBits(0b1, 1); // no nulls
      w.writeBits(1, 1); // timestamps: delta-of-delta,
      w.writeBits(1, 3); // one class,
      w.writeBits(0, 1); // no escape,
      w.writeBits(0, 1); // no zero runs,
      w.writeBits(widthBits, 6); // this wide
      w.writeBits(0, 32);
      return withValidChecksum(Buffer.concat([w.finish(), new Uint8Array(4)]));
    };
    expectRefused(forged(2 ** 40, 50));
    expectRefused(forged(MAX_CHUNK_SAMPLES + 1, 50));
    // Allowed count, but a million 50-bit residuals cannot fit in a few bytes.
    expect(() => decodeChunk(forged(MAX_CHUNK_SAMPLES, 50))).toThrow(/count larger than the chunk/);
  });

  it('refuses a version-1 blob that inflates beyond any chunk (a deflate bomb)', () => {
    const bomb = deflateRawSync(Buffer.concat([Uint8Array.of(1), Buffer.alloc(MAX_CHUNK_SAMPLES * 22)]));
    expectRefused(bomb);
  });

  it('refuses version-1 blobs whose inflated contents are damaged', () => {
    const varintish = fc.array(fc.oneof(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 255 })), { maxLength: 200 });
    fc.assert(fc.property(varintish, (body) => expectRefusedOrWellFormed(deflateRawSync(Uint8Array.from([1, ...body])))), { numRuns: 500 });
    expectRefused(Buffer.alloc(0));
  });
});
