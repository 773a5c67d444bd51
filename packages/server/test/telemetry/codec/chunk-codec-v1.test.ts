import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChunk, describeChunk, encodeChunk, summarize } from '../../../src/telemetry/codec/chunk-codec.ts';
import { polledTimes, registerTemperatures, sampleColumns, seededRandom, series } from './sample-series.ts';
import { encodeChunkV1, toColumnsV1 } from './v1-chunk-encoder.ts';

describe('version-1 chunks (deflate), still in older databases', () => {
  it('decode to the same columns as the samples the old encoder was given (null → NaN)', () => {
    // The old encoder's zigzag is exact only below 2^52 in magnitude: keep to what it could store.
    const storable = sampleColumns().filter((cols) => cols.ts.every((t) => Math.abs(t) < 2 ** 52));
    fc.assert(fc.property(storable, (cols) => {
      expect(decodeChunk(encodeChunkV1(toColumnsV1(cols)))).toEqual(cols);
    }), { numRuns: 500 });
  });

  it('decode identically to the version-2 chunk of the same samples', () => {
    const random = seededRandom(9);
    const cols = series(polledTimes(3600, random), registerTemperatures(3600, random).map((v, i) => (i % 500 === 7 ? NaN : v)));
    const v1 = encodeChunkV1(toColumnsV1(cols));
    const v2 = encodeChunk(cols);
    expect(describeChunk(v1)).toEqual({ version: 1, count: 3600 });
    expect(describeChunk(v2)).toMatchObject({ version: 2, count: 3600 });
    expect(decodeChunk(v1)).toEqual(decodeChunk(v2));
    expect(summarize(decodeChunk(v1))).toEqual(summarize(cols));
  });

  it('decode an empty old chunk', () => {
    expect(decodeChunk(encodeChunkV1({ ts: [], value: [], quality: [] }))).toEqual(series([], []));
  });
});
