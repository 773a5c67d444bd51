/**
 * Moving columns of samples in and out of PostgreSQL without a JavaScript object per sample.
 *
 * In: numeric arrays as array literals (`{1,2,NULL}`) built in one pass, for `unnest($1::bigint[],
 * ...)`, the multi-row insert path (measured on par with COPY for our appends once the dedup rows
 * share its transaction, so no COPY dependency). pg's own array
 * serialiser escapes element by element and is several times slower on 10,000 numbers.
 *
 * Out: a point's samples as three BYTEA aggregates of the binary send forms (int8send, float8send,
 * int2send, ordered by ts), decoded straight into typed arrays.
 */
import type { SampleColumns } from './codec/chunk-codec.ts';

/** `{1,2,3}` for bigint[] / int[] / smallint[] (integers only). */
export function integerArray(values: ArrayLike<number>, count = values.length): string {
  let out = '{';
  for (let i = 0; i < count; i++) {
    if (i > 0) out += ',';
    out += values[i]!;
  }
  return out + '}';
}

/** `{1.5,NULL,-0,Infinity}` for float8[]: NaN (a failed read) is NULL; -0 keeps its sign. */
export function floatArray(values: ArrayLike<number>, count = values.length): string {
  let out = '{';
  for (let i = 0; i < count; i++) {
    if (i > 0) out += ',';
    const v = values[i]!;
    out += Number.isNaN(v) ? 'NULL' : Object.is(v, -0) ? '-0' : String(v);
  }
  return out + '}';
}

/** `{"\\x0a0b",...}` for bytea[]. */
export function byteaArray(values: readonly Uint8Array[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += `"\\\\x${Buffer.from(values[i]!.buffer, values[i]!.byteOffset, values[i]!.byteLength).toString('hex')}"`;
  }
  return out + '}';
}

/** The select list that aggregates rows of (ts, value, quality) into the three columns {@link decodeColumns} reads. */
export const AGGREGATED_COLUMNS = `string_agg(int8send(ts), ''::bytea ORDER BY ts) AS ts,
  string_agg(float8send(COALESCE(value, 'NaN'::float8)), ''::bytea ORDER BY ts) AS value,
  string_agg(int2send(quality), ''::bytea ORDER BY ts) AS quality`;

export interface AggregatedRow {
  ts: Buffer | null;
  value: Buffer | null;
  quality: Buffer | null;
}

const EMPTY: SampleColumns = { count: 0, ts: new Float64Array(0), value: new Float64Array(0), quality: new Uint8Array(0) };

/** The columns of one aggregated row (big-endian send forms), sorted by ts as the aggregate ordered them. */
export function decodeColumns(row: AggregatedRow | undefined): SampleColumns {
  if (!row?.ts || !row.value || !row.quality) return EMPTY;
  const n = row.ts.length / 8;
  const tsView = new DataView(row.ts.buffer, row.ts.byteOffset, row.ts.byteLength);
  const valueView = new DataView(row.value.buffer, row.value.byteOffset, row.value.byteLength);
  const qualityView = new DataView(row.quality.buffer, row.quality.byteOffset, row.quality.byteLength);
  const ts = new Float64Array(n);
  const value = new Float64Array(n);
  const quality = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Exact for every safe integer: high word signed, low word unsigned.
    ts[i] = tsView.getInt32(i * 8) * 0x100000000 + tsView.getUint32(i * 8 + 4);
    value[i] = valueView.getFloat64(i * 8);
    quality[i] = qualityView.getInt16(i * 2);
  }
  return { count: n, ts, value, quality };
}
