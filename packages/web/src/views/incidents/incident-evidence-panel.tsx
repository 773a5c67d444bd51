/**
 * The telemetry captured around the incident, one block per asset (the panel, its feed): a chart
 * of the measured values, a chart of the on/off states, and their numbers in a table. Pending
 * evidence says when it will be read (the window must pass first); failed evidence says why.
 */
import { useMemo } from 'react';
import type { IncidentEvidence } from '../../app/api-types.ts';
import { StatusBadge, type Tone } from '../../app/components/badges.tsx';
import { EmptyState } from '../../app/components/states.tsx';
import { TimeSeriesChart, type ChartSeries } from '../../app/components/time-series-chart.tsx';
import { formatClock, formatTime, formatValue, isoTime } from '../../app/format.ts';
import { evidenceCharts, summariseSeries } from './evidence-series.ts';

const STATE_TONE: Record<IncidentEvidence['state'], Tone> = { pending: 'idle', captured: 'ok', failed: 'bad' };

function shown(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || v === null ? formatValue(v) : '—';
}

function EvidenceChart({ series, e, what, openedAt, height }: { series: ChartSeries[]; e: IncidentEvidence; what: string; openedAt: number; height: number }) {
  if (series.length === 0) return null;
  return (
    <TimeSeriesChart
      series={series} from={e.from} to={e.to} height={height} testId="incident-evidence-chart"
      label={`${e.site} / ${e.asset} ${what}, ${formatTime(e.from)} to ${formatTime(e.to)}; the incident was opened at ${formatClock(openedAt)}`}
    />
  );
}

function Captured({ e, openedAt }: { e: IncidentEvidence; openedAt: number }) {
  const series = e.series ?? [];
  const charts = useMemo(() => evidenceCharts(series), [series]);
  if (series.length === 0 || series.every((s) => s.samples.length === 0)) {
    return <EmptyState>No telemetry was stored for {e.asset} in this window.</EmptyState>;
  }
  return (
    <>
      <EvidenceChart series={charts.analog} e={e} what="measured values" openedAt={openedAt} height={220} />
      <EvidenceChart series={charts.binary} e={e} what="on/off states (1 = on)" openedAt={openedAt} height={140} />
      <details>
        <summary>The numbers</summary>
        <div className="table-scroll short">
          <table>
            <thead><tr><th scope="col">Point</th><th scope="col" className="num">Samples</th><th scope="col" className="num">First</th><th scope="col" className="num">Last</th><th scope="col" className="num">Min</th><th scope="col" className="num">Max</th></tr></thead>
            <tbody>
              {series.map(summariseSeries).map((s) => (
                <tr key={s.point}>
                  <td className="mono">{s.point}</td><td className="num">{s.samples}</td><td className="num">{shown(s.first)}</td>
                  <td className="num">{shown(s.last)}</td><td className="num">{formatValue(s.min)}</td><td className="num">{formatValue(s.max)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}

export function IncidentEvidencePanel({ evidence, openedAt }: { evidence: readonly IncidentEvidence[]; openedAt: number }) {
  if (evidence.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="incident-evidence-title">
      <h2 id="incident-evidence-title">Telemetry around it</h2>
      {evidence.map((e) => (
        <div key={e.id} className="incident-evidence" data-testid="incident-evidence" data-asset={e.asset} data-state={e.state}>
          <h3>
            {e.role ? `${e.role[0]!.toUpperCase()}${e.role.slice(1)}: ` : ''}{e.site} / {e.asset}{' '}
            <StatusBadge tone={STATE_TONE[e.state]} label={e.state} />
          </h3>
          <p className="muted fine">
            <time dateTime={isoTime(e.from)}>{formatTime(e.from)}</time> to <time dateTime={isoTime(e.to)}>{formatTime(e.to)}</time>
            {e.points ? `; points ${e.points.join(', ')}` : '; every point of the asset'}
          </p>
          {e.state === 'captured' ? <Captured e={e} openedAt={openedAt} /> : null}
          {e.state === 'pending' ? (
            <p>Read once the window has passed, at about <time dateTime={isoTime(e.dueAt)}>{formatClock(e.dueAt)}</time>{e.error ? ` (last try failed: ${e.error})` : ''}.</p>
          ) : null}
          {e.state === 'failed' ? <p className="form-error">Could not be captured after {e.attempts} tries: {e.error ?? 'unknown error'}.</p> : null}
        </div>
      ))}
    </section>
  );
}
