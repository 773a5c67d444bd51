/**
 * The evidence of one recommendation: the point's minute means (with their min–max band) from a
 * while before the deviation began to when it was raised, against the learned baseline and the
 * 3σ line. The chart link the server gives is an API URL (`/api/v1/points/<id>/samples?...`);
 * it is read here as columns.
 */
import { useMemo } from 'react';
import type { AssetDetail, BucketColumns, RawColumns, Recommendation } from '../../app/api-types.ts';
import { EmptyState, StaleNotice, stateOf } from '../../app/components/states.tsx';
import { TimeSeriesChart, type ChartLimit, type ChartSeries } from '../../app/components/time-series-chart.tsx';
import { API_BASE, query } from '../../app/api-client.ts';
import { formatTime, formatValue, isoTime } from '../../app/format.ts';
import { useApi } from '../../app/use-api.ts';
import { formatZ } from './deviation.ts';

/** `/api/v1/points/7/samples?from=..` → `/points/7/samples?from=..&layout=columns` (api.get adds the base). */
export function chartRequest(chart: string): string {
  const path = chart.startsWith(API_BASE) ? chart.slice(API_BASE.length) : chart;
  return `${path}${path.includes('?') ? '&' : '?'}layout=columns`;
}

type Columns = BucketColumns | RawColumns;

function isBuckets(c: Columns): c is BucketColumns {
  return 'avg' in c;
}

function seriesOf(c: Columns, label: string, unit: string): ChartSeries {
  return isBuckets(c)
    ? { label: `${label} mean`, unit, ts: c.ts, values: c.avg, min: c.min, max: c.max }
    : { label, unit, ts: c.ts, values: c.value };
}

export function evidenceLimits(r: Recommendation): ChartLimit[] {
  const above = r.zScore >= 0;
  return [
    { value: r.baselineMean, label: 'baseline mean', severity: 'low' },
    {
      value: above ? r.baselineMean + 3 * r.baselineStd : r.baselineMean - 3 * r.baselineStd,
      label: above ? '3σ above baseline' : '3σ below baseline',
      severity: 'high',
    },
  ];
}

function EvidenceTable({ data, unit }: { data: Columns; unit: string }) {
  return (
    <details>
      <summary>The chart's numbers</summary>
      <div className="table-scroll short">
        <table>
          <thead>
            {isBuckets(data)
              ? <tr><th>Time</th><th className="num">Min</th><th className="num">Mean</th><th className="num">Max</th></tr>
              : <tr><th>Time</th><th className="num">Value</th></tr>}
          </thead>
          <tbody>
            {data.ts.map((t, i) => (
              <tr key={t}>
                <td><time dateTime={isoTime(t)}>{formatTime(t)}</time></td>
                {isBuckets(data) ? (
                  <>
                    <td className="num">{formatValue(data.min[i], unit)}</td>
                    <td className="num">{formatValue(data.avg[i], unit)}</td>
                    <td className="num">{formatValue(data.max[i], unit)}</td>
                  </>
                ) : <td className="num">{formatValue(data.value[i], unit)}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function EvidenceChart({ data, recommendation: r, unit }: { data: Columns; recommendation: Recommendation; unit: string }) {
  const series = useMemo(() => [seriesOf(data, r.point, unit)], [data, r.point, unit]);
  const limits = useMemo(() => evidenceLimits(r), [r]);
  const resolution = isBuckets(data) ? `, ${Math.round(data.bucketMs / 1000)} s means with their min and max` : '';
  return (
    <>
      <TimeSeriesChart
        series={series} limits={limits} from={data.from} to={data.to} height={240} testId="recommendation-chart"
        label={`${r.site} / ${r.asset} ${r.point}${resolution}, ${formatTime(data.from)} to ${formatTime(data.to)}; `
          + `baseline ${formatValue(r.baselineMean, unit)}, ${limits[1]!.label} at ${formatValue(limits[1]!.value, unit)}`}
      />
      <EvidenceTable data={data} unit={unit} />
    </>
  );
}

export function RecommendationEvidence({ recommendation: r }: { recommendation: Recommendation }) {
  const samples = useApi<Columns>(r.chart ? chartRequest(r.chart) : null);
  // For the unit only: the recommendation names the point, not its unit.
  const asset = useApi<AssetDetail>(`/assets/${encodeURIComponent(r.asset)}${query({ site: r.site })}`);
  const unit = asset.state.data?.points.find((p) => p.name === r.point)?.unit ?? '';

  const other = r.chart ? stateOf(samples.state, {
    onRetry: samples.reload,
    loading: 'Loading the evidence…',
    isEmpty: (c) => c.ts.length === 0,
    empty: 'No samples were stored for this point in the evidence window.',
  }) : <EmptyState>No chart: the point has no stored samples to show.</EmptyState>;

  return (
    <div className="recommendation-evidence" data-testid="recommendation-evidence">
      <dl className="facts">
        <dt>Recent mean</dt><dd>{formatValue(r.recentMean, unit)}</dd>
        <dt>Baseline</dt><dd>{formatValue(r.baselineMean, unit)} ± {formatValue(r.baselineStd, unit)}</dd>
        <dt>Distance</dt><dd>{formatZ(r.zScore)} from normal</dd>
        <dt>Unusual since</dt><dd><time dateTime={isoTime(r.since)}>{formatTime(r.since)}</time></dd>
        <dt>Raised</dt><dd><time dateTime={isoTime(r.at)}>{formatTime(r.at)}</time></dd>
      </dl>
      {other ?? (
        <>
          <StaleNotice error={samples.state.error} />
          <EvidenceChart data={samples.state.data!} recommendation={r} unit={unit} />
        </>
      )}
    </div>
  );
}
