/**
 * Captured evidence as chart series. Points whose values are only on/off (door contacts, breaker
 * states; stored as 1/0) go on a chart of their own, so a 0–1 step is not flattened against a
 * current of hundreds of amperes; text values cannot be drawn and are left to the table.
 */
import type { EvidenceSampleValue, IncidentEvidence } from '../../app/api-types.ts';
import type { ChartSeries } from '../../app/components/time-series-chart.tsx';

type Series = NonNullable<IncidentEvidence['series']>[number];

function numeric(v: EvidenceSampleValue): number | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Only on/off values (and at least one of them). */
export function isBinarySeries(s: Series): boolean {
  let any = false;
  for (const { value } of s.samples) {
    if (value === null) continue;
    if (typeof value === 'boolean' || value === 0 || value === 1) any = true;
    else return false;
  }
  return any;
}

function drawable(s: Series): boolean {
  return s.samples.some((x) => numeric(x.value) !== null);
}

function toChart(s: Series): ChartSeries {
  return { label: s.point, unit: '', ts: s.samples.map((x) => x.ts), values: s.samples.map((x) => numeric(x.value)) };
}

export interface EvidenceCharts {
  analog: ChartSeries[];
  binary: ChartSeries[];
}

export function evidenceCharts(series: readonly Series[]): EvidenceCharts {
  const shown = series.filter(drawable);
  return { analog: shown.filter((s) => !isBinarySeries(s)).map(toChart), binary: shown.filter(isBinarySeries).map(toChart) };
}

export interface SeriesSummary {
  point: string;
  samples: number;
  first: EvidenceSampleValue | undefined;
  last: EvidenceSampleValue | undefined;
  min: number | null;
  max: number | null;
}

/** The chart's numbers in a few words per point, for the table beside it (nothing only in the picture). */
export function summariseSeries(s: Series): SeriesSummary {
  let min: number | null = null;
  let max: number | null = null;
  for (const { value } of s.samples) {
    const n = numeric(value);
    if (n === null) continue;
    min = min === null ? n : Math.min(min, n);
    max = max === null ? n : Math.max(max, n);
  }
  return { point: s.point, samples: s.samples.length, first: s.samples[0]?.value, last: s.samples.at(-1)?.value, min, max };
}
