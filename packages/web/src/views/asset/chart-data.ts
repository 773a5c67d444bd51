/**
 * What the asset chart asks the API for and how live values join it. Pure functions, so the
 * choice of resolution is the same whoever calls it.
 */
import type { SeriesResponse } from '../../app/api-types.ts';
import type { ChartSeries } from '../../app/components/time-series-chart.tsx';

export const RANGES = [
  { id: '15m', label: '15 min', ms: 15 * 60_000 },
  { id: '1h', label: '1 h', ms: 3_600_000 },
  { id: '6h', label: '6 h', ms: 6 * 3_600_000 },
  { id: '24h', label: '24 h', ms: 24 * 3_600_000 },
  { id: '7d', label: '7 d', ms: 7 * 24 * 3_600_000 },
] as const;
export type RangeId = (typeof RANGES)[number]['id'];

export type Resolution = 'auto' | 'raw' | 'aggregated';

/** Nice bucket widths, ms: about 600 buckets across the range. */
const BUCKETS = [1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, 86_400_000];
export const TARGET_BUCKETS = 600;
/** Raw samples per point the chart asks for at most (the API's limit is per point). */
export const RAW_LIMIT = 20_000;

export function bucketFor(rangeMs: number): number {
  const want = rangeMs / TARGET_BUCKETS;
  return BUCKETS.find((b) => b >= want) ?? BUCKETS.at(-1)!;
}

/** Raw up to an hour (at 1 Hz, 3,600 samples a point), buckets beyond. */
export function bucketOf(resolution: Resolution, rangeMs: number): number | null {
  if (resolution === 'raw') return null;
  if (resolution === 'aggregated') return bucketFor(rangeMs);
  return rangeMs <= 3_600_000 ? null : bucketFor(rangeMs);
}

export function samplesPath(ids: readonly number[], from: number, to: number, bucketMs: number | null, format: 'json' | 'csv' = 'json'): string {
  const q = new URLSearchParams({ points: ids.join(','), from: String(Math.floor(from)), to: String(Math.ceil(to)) });
  if (bucketMs !== null) q.set('bucket', String(bucketMs));
  if (format === 'csv') q.set('format', 'csv');
  else q.set('layout', 'columns');
  if (bucketMs === null) q.set('limit', String(RAW_LIMIT));
  return `/samples?${q.toString()}`;
}

export interface PointMeta {
  id: number;
  name: string;
  unit: string;
}

/** The API's columns answer as chart series, in the order of `points`. */
export function seriesOf(response: SeriesResponse, points: readonly PointMeta[]): ChartSeries[] {
  const byId = new Map(response.series.map((s) => [s.point.id, s]));
  const out: ChartSeries[] = [];
  for (const p of points) {
    const s = byId.get(p.id) as (Record<string, unknown> & { ts: number[] }) | undefined;
    if (!s) continue;
    if (Array.isArray(s.avg)) {
      out.push({ label: p.name, unit: p.unit, ts: s.ts, values: s.avg as number[], min: s.min as number[], max: s.max as number[] });
    } else {
      out.push({ label: p.name, unit: p.unit, ts: s.ts, values: (s.value as (number | null)[]).map((v) => (typeof v === 'number' ? v : null)) });
    }
  }
  return out;
}

/**
 * A live value appended to a raw series (ignored if it is not newer than the series' last
 * sample); samples older than `from` are dropped so the live window slides.
 */
export function appendLive(series: ChartSeries, ts: number, value: number | null, from: number): ChartSeries {
  const last = series.ts.at(-1);
  if (last !== undefined && ts <= last) return series;
  let start = 0;
  while (start < series.ts.length && series.ts[start]! < from) start++;
  return { ...series, ts: [...series.ts.slice(start), ts], values: [...series.values.slice(start), value] };
}
