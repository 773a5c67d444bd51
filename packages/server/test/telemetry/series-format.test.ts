import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeExport } from '../../src/telemetry/series-format.ts';
import type { SampleColumns } from '../../src/telemetry/codec/chunk-codec.ts';

const text = (pieces: Iterable<Uint8Array>) => Buffer.concat([...pieces].map((p) => Buffer.from(p))).toString('utf8');

function columns(rows: { ts: number; value: number | null; quality: number }[]): SampleColumns {
  return {
    count: rows.length,
    ts: Float64Array.from(rows.map((r) => r.ts)),
    value: Float64Array.from(rows.map((r) => (r.value === null ? NaN : r.value))),
    quality: Uint8Array.from(rows.map((r) => r.quality)),
  };
}

describe('encodeExport', () => {
  it('writes JSON that parses back to exactly the samples, whatever the numbers', () => {
    const row = fc.record({
      ts: fc.integer({ min: -1e15, max: 8e15 }),
      value: fc.oneof(fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -1e6, max: 1e6 }).map((k) => k / 10)),
      quality: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(fc.property(fc.array(row, { maxLength: 300 }), (rows) => {
      const point = { id: 7, site: 'site-1', asset: 'AHU-01', point: 'supply_air_temp' };
      const body = JSON.parse(text(encodeExport({ points: [point], from: 0, to: 1, limit: 1000, format: 'json', shape: 'single' },
        () => ({ kind: 'raw', columns: columns(rows) }))));
      // JSON has no -0: it reads back as 0.
      expect(body.samples).toEqual(rows.map((r) => ({ ...r, value: Object.is(r.value, -0) ? 0 : r.value })));
      expect(body.point).toEqual({ id: 7, site: 'site-1', asset: 'AHU-01', name: 'supply_air_temp' });
    }), { numRuns: 300 });
  });

  it('writes names in UTF-8 and escapes them in JSON and CSV', () => {
    const point = { id: 1, site: 'site-1', asset: 'AHU-01', point: 'température "Δ", nord' };
    const answer = () => ({ kind: 'raw' as const, columns: columns([{ ts: 1_764_547_200_000, value: 20.5, quality: 192 }]) });
    const json = JSON.parse(text(encodeExport({ points: [point], from: 0, to: 1, limit: 10, format: 'json' }, answer)));
    expect(json.series[0].point.name).toBe('température "Δ", nord');
    const csv = text(encodeExport({ points: [point], from: 0, to: 1, limit: 10, format: 'csv' }, answer));
    expect(csv).toBe('point_id,site,asset,point,time,ts,value,quality\r\n'
      + '1,site-1,AHU-01,"température ""Δ"", nord",2025-12-01T00:00:00.000Z,1764547200000,20.5,192\r\n');
  });

  it('writes the columns layout as arrays that parse back to the same samples and buckets', () => {
    const rows = [{ ts: 1_764_547_200_000, value: 20.5, quality: 192 }, { ts: 1_764_547_201_000, value: null, quality: 0 }];
    const point = { id: 3, site: 's', asset: 'a', point: 'p' };
    const raw = JSON.parse(text(encodeExport({ points: [point], from: 0, to: 1, limit: 10, format: 'json', shape: 'single', layout: 'columns' },
      () => ({ kind: 'raw', columns: columns(rows) }))));
    expect(raw).toEqual({ point: { id: 3, site: 's', asset: 'a', name: 'p' }, from: 0, to: 1, ts: [rows[0]!.ts, rows[1]!.ts], value: [20.5, null], quality: [192, 0] });
    const b = { count: 1, ts: Float64Array.of(60_000), min: Float64Array.of(1), max: Float64Array.of(3), sum: Float64Array.of(4), n: Float64Array.of(2) };
    const bucketed = JSON.parse(text(encodeExport({ points: [point, point], from: 0, to: 1, bucketMs: 60_000, limit: 10, format: 'json', layout: 'columns' },
      () => ({ kind: 'buckets', columns: b }))));
    expect(bucketed.series[1]).toEqual({ point: { id: 3, site: 's', asset: 'a', name: 'p' }, ts: [60_000], min: [1], avg: [2], max: [3], count: [2] });
  });

  it('cuts a long answer into pieces that together are the whole body', () => {
    const n = 100_000;
    const rows = Array.from({ length: n }, (_, i) => ({ ts: 1_764_547_200_000 + i * 1000, value: i / 10, quality: 192 }));
    const pieces = [...encodeExport({ points: [{ id: 1, site: 's', asset: 'a', point: 'p' }], from: 0, to: 1, limit: n, format: 'json' },
      () => ({ kind: 'raw', columns: columns(rows) }))];
    expect(pieces.length).toBeGreaterThan(2);
    expect(JSON.parse(text(pieces)).series[0].samples).toHaveLength(n);
  });
});
