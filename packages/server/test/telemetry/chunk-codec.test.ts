import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChunk, encodeChunk } from '../../src/telemetry/chunk-codec.ts';

describe('chunk codec', () => {
  it('round-trips any sorted series of timestamps, values (including null and -0) and qualities', () => {
    const sample = fc.record({
      ts: fc.integer({ min: -1e13, max: 4e12 }),
      value: fc.oneof(fc.constant(null), fc.double({ noNaN: true }), fc.integer({ min: -1000, max: 1000 })),
      quality: fc.constantFrom(0, 64, 192),
    });
    fc.assert(fc.property(fc.array(sample, { maxLength: 300 }), (samples) => {
      samples.sort((a, b) => a.ts - b.ts);
      const cols = { ts: samples.map((s) => s.ts), value: samples.map((s) => s.value), quality: samples.map((s) => s.quality) };
      expect(decodeChunk(encodeChunk(cols))).toEqual(cols);
    }));
  });

  it('compresses a slowly changing 1 Hz series well below 16 bytes per sample', () => {
    const n = 3600;
    const cols = {
      ts: Array.from({ length: n }, (_, i) => 1_750_000_000_000 + i * 1000),
      value: Array.from({ length: n }, (_, i) => 20 + Math.floor(i / 60) / 10),
      quality: new Array<number>(n).fill(192),
    };
    expect(encodeChunk(cols).length).toBeLessThan(n * 4);
  });

  it('refuses a damaged chunk with a coded error instead of crashing', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decodeChunk(Buffer.from(bytes));
      } catch (err) {
        expect(err).toMatchObject({ code: 'telemetry_chunk_corrupt' });
      }
    }));
  });
});
