/**
 * The KPI maintenance is run to improve: the share of work orders that were reactive (after a
 * failure), per site and ISO week, against the goal of 5 %. The chart is backed by a table of the
 * same numbers and a sentence about the latest week, so nothing is only in the picture.
 */
import { useMemo } from 'react';
import type { ReactiveShare } from '../../app/api-types.ts';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { TimeSeriesChart, type ChartLimit, type ChartSeries } from '../../app/components/time-series-chart.tsx';
import { formatPercent } from '../../app/format.ts';
import type { UseApiResult } from '../../app/use-api.ts';

export const GOAL_SHARE = 0.05;
const WEEK_MS = 7 * 24 * 3_600_000;
const GOAL_LIMIT: readonly ChartLimit[] = [{ value: GOAL_SHARE * 100, label: 'goal 5 %', severity: 'low' }];

/** Weeks start on Monday 00:00 UTC (the server's ISO weeks), so the date is read in UTC. */
function weekLabel(periodStart: number): string {
  return `week of ${new Date(periodStart).toISOString().slice(0, 10)}`;
}

function seriesBySite(periods: readonly ReactiveShare[]): ChartSeries[] {
  const bySite = new Map<string, ReactiveShare[]>();
  for (const p of periods) {
    let list = bySite.get(p.site);
    if (!list) bySite.set(p.site, (list = []));
    list.push(p);
  }
  return [...bySite.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([site, list]) => {
    const sorted = [...list].sort((a, b) => a.periodStart - b.periodStart);
    return { label: site, unit: '%', ts: sorted.map((p) => p.periodStart), values: sorted.map((p) => p.share * 100) };
  });
}

export function latestWeekSentence(periods: readonly ReactiveShare[]): string {
  if (periods.length === 0) return '';
  const latest = Math.max(...periods.map((p) => p.periodStart));
  const week = periods.filter((p) => p.periodStart === latest);
  const reactive = week.reduce((n, p) => n + p.reactive, 0);
  const total = week.reduce((n, p) => n + p.total, 0);
  const share = total === 0 ? 0 : reactive / total;
  const verdict = share <= GOAL_SHARE ? 'within the 5 % goal' : 'above the 5 % goal';
  const sites = week.length > 1 ? ` (${week.map((p) => `${p.site} ${formatPercent(p.share)}`).join(', ')})` : ` at ${week[0]!.site}`;
  return `In the latest ${weekLabel(latest)} (UTC), ${formatPercent(share)} of work orders were reactive — ${reactive} of ${total}${sites} — ${verdict}.`;
}

export function ReactiveShareChart({ kpi }: { kpi: UseApiResult<{ periods: ReactiveShare[] }> }) {
  const { state } = kpi;
  const periods = useMemo(
    () => [...(state.data?.periods ?? [])].sort((a, b) => a.periodStart - b.periodStart || a.site.localeCompare(b.site)),
    [state.data],
  );
  const series = useMemo(() => seriesBySite(periods), [periods]);
  const other = stateOf(state, {
    onRetry: kpi.reload,
    isEmpty: (d) => d.periods.length === 0,
    empty: 'No work orders yet, so no reactive share to show. It appears once work orders are recorded.',
  });
  const from = periods[0]?.periodStart ?? 0;
  const to = (periods.at(-1)?.periodStart ?? 0) + WEEK_MS;

  return (
    <section className="panel" aria-labelledby="reactive-share-title" data-testid="reactive-share-chart">
      <h2 id="reactive-share-title">Reactive work share</h2>
      <p className="muted">Share of work orders that were reactive (after a failure), per site and week. Goal: 5 % or less.</p>
      {other ?? (
        <>
          <StaleNotice error={state.error} />
          <p data-testid="reactive-share-latest"><strong>{latestWeekSentence(periods)}</strong></p>
          <TimeSeriesChart
            series={series} limits={GOAL_LIMIT} from={from} to={to} height={220} testId="reactive-share-plot"
            label={`Reactive work share in percent per week, ${series.length} site${series.length === 1 ? '' : 's'}, goal 5 %`}
          />
          <div className="table-scroll short">
            <table data-testid="reactive-share-table" aria-label="Reactive work share per site and week">
              <thead>
                <tr><th scope="col">Week (UTC)</th><th scope="col">Site</th><th scope="col" className="num">Reactive</th><th scope="col" className="num">Work orders</th><th scope="col" className="num">Share</th></tr>
              </thead>
              <tbody>
                {periods.map((p) => (
                  <tr key={`${p.site}-${p.periodStart}`} data-testid="reactive-share-row">
                    <td>{weekLabel(p.periodStart)}</td>
                    <td>{p.site}</td>
                    <td className="num">{p.reactive}</td>
                    <td className="num">{p.total}</td>
                    <td className="num">{formatPercent(p.share)}{p.share > GOAL_SHARE ? <span className="sr-only"> (above goal)</span> : null}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
