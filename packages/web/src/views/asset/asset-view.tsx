/**
 * One asset: its points with live latest values, a chart of the chosen points (several on one
 * chart, zoom by dragging, time range, raw or aggregated) with the alarm limits and anomaly
 * scores overlaid, CSV export of exactly what is charted, its alarms and its maintenance history,
 * and, after a repair, declaring its behaviour normal again.
 * What the chart shows is kept in the address, so a link or a reload shows the same thing.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useAlarms } from '../../app/alarm-store.ts';
import { api, isAbort, messageOf, API_BASE } from '../../app/api-client.ts';
import type { AlarmRule, AssetDetail, AssetScore, AssetPoint, Recommendation, SeriesResponse, WorkOrder } from '../../app/api-types.ts';
import { AlarmStateBadge, PriorityBadge, StatusBadge } from '../../app/components/badges.tsx';
import { PageHeader } from '../../app/components/page.tsx';
import { EmptyState, ErrorState, LoadingState, StaleNotice, stateOf } from '../../app/components/states.tsx';
import { TimeSeriesChart, type ChartLimit, type ChartSeries } from '../../app/components/time-series-chart.tsx';
import { formatAgo, formatTime, formatValue, isoTime, qualityName } from '../../app/format.ts';
import { onLatestValue, putLatest, useLatestValue } from '../../app/latest-values.ts';
import { useWatchedPoints } from '../../app/live.ts';
import type { ViewProps } from '../../app/route.ts';
import { Link, useSearchParams } from '../../app/router.tsx';
import { useApi, useNow } from '../../app/use-api.ts';
import { appendLive, bucketOf, RANGES, samplesPath, seriesOf, type RangeId, type Resolution } from './chart-data.ts';
import { RelearnAsset } from './relearn-asset.tsx';


const LEVEL_LABEL: Record<'hh' | 'h' | 'l' | 'll', string> = { hh: 'HH', h: 'H', l: 'L', ll: 'LL' };

function LatestCell({ point }: { point: AssetPoint }) {
  const v = useLatestValue(point.id) ?? point.latest ?? undefined;
  const now = useNow(5_000);
  if (!v) return <><td className="num" data-testid={`latest-value-${point.name}`}>—</td><td /><td className="muted">no sample yet</td></>;
  const q = qualityName(v.quality);
  return (
    <>
      <td className="num" data-testid={`latest-value-${point.name}`} data-ts={v.ts}>{formatValue(v.value, point.unit)}</td>
      <td>{q === 'good' ? <span className="muted">good</span> : <StatusBadge tone={q === 'bad' ? 'bad' : 'warn'} label={q} />}</td>
      <td><time dateTime={isoTime(v.ts)} title={formatTime(v.ts)}>{formatAgo(v.ts, now)}</time></td>
    </>
  );
}

function limitsOf(rules: readonly AlarmRule[], points: readonly AssetPoint[]): ChartLimit[] {
  const names = new Set(points.map((p) => p.name));
  const out: ChartLimit[] = [];
  for (const r of rules) {
    if (!r.enabled || !names.has(r.point)) continue;
    const prefix = points.length > 1 ? `${r.point} ` : '';
    for (const level of ['hh', 'h', 'l', 'll'] as const) {
      const v = r[level];
      if (typeof v === 'number') out.push({ value: v, label: `${prefix}${LEVEL_LABEL[level]} ${v}`, severity: level === 'hh' || level === 'll' ? 'high' : 'low' });
    }
    if (r.kind === 'limit' && typeof r.threshold === 'number') out.push({ value: r.threshold, label: `${prefix}limit ${r.threshold}`, severity: 'high' });
  }
  return out;
}

export default function AssetView({ params }: ViewProps) {
  const site = params.site ?? '';
  const assetId = params.asset ?? '';
  const [search, setSearch] = useSearchParams();
  const asset = useApi<AssetDetail>(`/assets/${encodeURIComponent(assetId)}?site=${encodeURIComponent(site)}`, { reloadOn: ['fleet'] });
  const detail = asset.state.data;
  const points = useMemo(() => detail?.points ?? [], [detail]);
  const analog = useMemo(() => points.filter((p) => p.kind !== 'binary' && p.kind !== 'boolean'), [points]);

  // Seed the live store with what the API answered, and watch every point of the asset.
  useEffect(() => { for (const p of points) putLatest(p.id, p.latest); }, [points]);
  useWatchedPoints(useMemo(() => points.map((p) => p.id), [points]));

  const selectedIds = useMemo(() => {
    const fromUrl = (search.get('points') ?? '').split(',').map(Number).filter((n) => points.some((p) => p.id === n));
    if (fromUrl.length > 0) return fromUrl;
    return analog[0] ? [analog[0].id] : [];
  }, [search, points, analog]);
  const selected = useMemo(() => selectedIds.map((id) => points.find((p) => p.id === id)!).filter(Boolean), [selectedIds, points]);
  const rangeId = (RANGES.find((r) => r.id === search.get('range'))?.id ?? '15m') as RangeId;
  const rangeMs = RANGES.find((r) => r.id === rangeId)!.ms;
  const resolution = (['auto', 'raw', 'aggregated'].includes(search.get('res') ?? '') ? search.get('res') : 'auto') as Resolution;
  const zoomFrom = Number(search.get('from'));
  const zoomTo = Number(search.get('to'));
  const zoomed = Number.isFinite(zoomFrom) && Number.isFinite(zoomTo) && zoomFrom > 0 && zoomTo > zoomFrom;
  const showScore = search.get('score') !== 'off';

  // The live window: ends now, moves every 5 s; a zoomed chart stays where it is.
  const tick = useNow(5_000);
  const to = zoomed ? zoomTo : tick;
  const from = zoomed ? zoomFrom : tick - rangeMs;
  const bucketMs = bucketOf(resolution, to - from);
  const fetchKey = selected.length === 0 ? null : samplesPath(selectedIds, zoomed ? from : Math.floor(from / 60_000) * 60_000, zoomed ? to : Number.MAX_SAFE_INTEGER, bucketMs);

  const [series, setSeries] = useState<ChartSeries[] | null>(null);
  const [chartError, setChartError] = useState<string | null>(null);
  const [refetch, setRefetch] = useState(0);
  // Raw live charts take new values from the stream; aggregated ones re-read every 30 s.
  useEffect(() => {
    if (bucketMs === null || zoomed) return undefined;
    const id = setInterval(() => setRefetch((n) => n + 1), 30_000);
    return () => clearInterval(id);
  }, [bucketMs, zoomed]);
  useEffect(() => {
    if (fetchKey === null) { setSeries([]); return undefined; }
    const controller = new AbortController();
    api.get<SeriesResponse>(fetchKey.replace(`to=${Number.MAX_SAFE_INTEGER}`, `to=${Date.now()}`), { signal: controller.signal }).then((r) => {
      setSeries(seriesOf(r, selected));
      setChartError(null);
    }, (err: unknown) => { if (!isAbort(err)) setChartError(messageOf(err)); });
    return () => controller.abort();
    // `selected` follows selectedIds, which is part of fetchKey.
  }, [fetchKey, refetch]);

  const liveRaw = bucketMs === null && !zoomed;
  const fromRef = useRef(from);
  fromRef.current = from;
  useEffect(() => {
    if (!liveRaw) return undefined;
    return onLatestValue((id, v) => {
      const idx = selectedIds.indexOf(id);
      if (idx < 0) return;
      setSeries((cur) => {
        if (!cur || !cur[idx]) return cur;
        const next = cur.slice();
        next[idx] = appendLive(cur[idx]!, v.ts, typeof v.value === 'number' ? v.value : null, fromRef.current);
        return next;
      });
    });
  }, [liveRaw, selectedIds]);

  // The rules in effect for this asset (its overrides applied): what an alarm is judged against.
  const rules = useApi<{ rules: AlarmRule[] }>(`/assets/${encodeURIComponent(site)}/${encodeURIComponent(assetId)}/alarm-rules`);
  const scores = useApi<{ points: AssetScore[] }>(`/asset-scores?site=${encodeURIComponent(site)}&asset=${encodeURIComponent(assetId)}`, { pollMs: 30_000 });
  const limits = useMemo(() => limitsOf(rules.state.data?.rules ?? [], selected), [rules.state.data, selected]);
  const chartSeries = useMemo(() => {
    const base = series ?? [];
    if (!showScore) return base;
    const extra: ChartSeries[] = [];
    for (const p of selected) {
      const h = scores.state.data?.points.find((s) => s.point === p.name);
      if (h && h.ts.length > 0) extra.push({ label: `${p.name} anomaly score`, unit: '', ts: h.ts, values: h.scores, score: true });
    }
    return [...base, ...extra];
  }, [series, showScore, selected, scores.state.data]);

  const alarms = useAlarms();
  // What needs attention: active or unacknowledged, or taken out of the operator's view (shelved, out of service).
  const assetAlarms = useMemo(() => [...alarms.byId.values()]
    .filter((a) => a.site === site && a.asset === assetId && (a.state !== 'normal' || a.shelved !== null || a.outOfService !== null))
    .sort((a, b) => Number(a.acknowledged) - Number(b.acknowledged) || (b.changedAt - a.changedAt)), [alarms.version, alarms.byId, site, assetId]);
  const recs = useApi<{ recommendations: Recommendation[] }>(`/recommendations?site=${encodeURIComponent(site)}`, { reloadOn: ['recommendations'] });
  const orders = useApi<{ workOrders: WorkOrder[] }>(`/work-orders?site=${encodeURIComponent(site)}`, { reloadOn: ['recommendations'] });

  const gate = stateOf(asset.state, { onRetry: asset.reload, loading: `Loading ${assetId}…` });
  if (gate) return <><PageHeader title={assetId} subtitle={site} />{gate}</>;
  const a = detail!;

  const toggle = (id: number) => {
    const next = selectedIds.includes(id) ? selectedIds.filter((x) => x !== id) : [...selectedIds, id].slice(-8);
    setSearch({ points: next.join(',') });
  };
  const csvHref = selected.length === 0 ? undefined : `${API_BASE}${samplesPath(selectedIds, Math.floor(from), Math.ceil(to), bucketMs, 'csv')}`;
  const score = (name: string) => scores.state.data?.points.find((s) => s.point === name);

  return (
    <>
      <PageHeader
        title={<>{a.name && a.name !== a.id ? `${a.name} ` : ''}<span className="mono">{a.id}</span></>}
        subtitle={<>{a.type} · profile {a.profile} · area {a.area || '—'} · site {a.site} · guardian <span className="mono" title={a.deviceId}>{a.deviceId.slice(0, 12)}…</span></>}
      />
      <StaleNotice error={asset.state.error} />
      <div className="split">
        <div>
          <section className="panel" aria-labelledby="chart-title">
            <h2 id="chart-title">Chart</h2>
            <div className="toolbar">
              <span className="pill-group" role="group" aria-label="Time range">
                {RANGES.map((r) => (
                  <button key={r.id} type="button" aria-pressed={!zoomed && rangeId === r.id} onClick={() => setSearch({ range: r.id, from: null, to: null })}>{r.label}</button>
                ))}
              </span>
              <label className="inline-field">Resolution
                <select value={resolution} onChange={(e) => setSearch({ res: e.target.value === 'auto' ? null : e.target.value })}>
                  <option value="auto">auto (raw up to 1 h)</option>
                  <option value="raw">raw samples</option>
                  <option value="aggregated">aggregated (min/mean/max)</option>
                </select>
              </label>
              <label className="inline-field"><input type="checkbox" checked={showScore} onChange={(e) => setSearch({ score: e.target.checked ? null : 'off' })} /> anomaly score</label>
              {zoomed ? <button type="button" onClick={() => setSearch({ from: null, to: null })}>Back to live</button> : null}
              {csvHref ? <a className="button-link" href={csvHref} download data-testid="export-csv">Export CSV</a> : null}
            </div>
            <p className="muted" data-testid="chart-caption">
              {zoomed ? 'Zoomed' : 'Live'}: {formatTime(from)} – {formatTime(to)} · {bucketMs === null ? 'raw samples' : `${bucketMs / 1000}-second buckets (mean, with min–max band)`}
              {limits.length > 0 ? ' · dashed lines: alarm limits' : ''} · drag across the chart to zoom, double-click to go back.
            </p>
            {chartError ? <ErrorState message={chartError} onRetry={() => setRefetch((n) => n + 1)} /> : null}
            {selected.length === 0 ? <EmptyState>Choose one or more points below to chart them.</EmptyState>
              : series === null ? <LoadingState label="Loading samples…" />
                : (
                  <TimeSeriesChart
                    testId="asset-chart" label={`${a.id}: ${selected.map((p) => p.name).join(', ')}`}
                    series={chartSeries} limits={limits} from={from} to={to}
                    onZoom={(f, t) => (Number.isNaN(f) ? setSearch({ from: null, to: null }) : setSearch({ from: String(f), to: String(t) }))}
                  />
                )}
          </section>
          <section className="panel" aria-labelledby="points-title">
            <h2 id="points-title">Points</h2>
            {points.length === 0 ? <EmptyState>This asset has not reported any point yet.</EmptyState> : (
              <div className="table-scroll">
                <table>
                  <thead><tr><th scope="col">Chart</th><th scope="col">Point</th><th scope="col" className="num">Latest</th><th scope="col">Quality</th><th scope="col">When</th><th scope="col" className="num">Anomaly</th></tr></thead>
                  <tbody>
                    {points.map((p) => {
                      const s = score(p.name);
                      return (
                        <tr key={p.id} className={selectedIds.includes(p.id) ? 'selected' : undefined} data-testid="point-row" data-point={p.name}>
                          <td><input type="checkbox" aria-label={`chart ${p.name}`} checked={selectedIds.includes(p.id)} onChange={() => toggle(p.id)} disabled={p.kind === 'binary'} /></td>
                          <th scope="row" title={p.description}>{p.name}{p.unit ? <span className="muted"> ({p.unit})</span> : null}</th>
                          <LatestCell point={p} />
                          <td className="num">{s?.scoring ? <><StatusBadge tone={s.score >= 0.5 ? 'bad' : s.score >= 0.3 ? 'warn' : 'ok'} label={s.score.toFixed(2)} />{s.baselineLearned ? null : <span className="muted" title="Its normal level is still being learned (a day of data): drift from it is not judged yet"> baseline learning</span>}</> : <span className="muted">{s ? 'learning' : '—'}</span>}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </div>
        <div>
          <section className="panel" aria-labelledby="alarms-title">
            <h2 id="alarms-title">Alarms</h2>
            {alarms.status === 'loading' || alarms.status === 'idle' ? <LoadingState /> : assetAlarms.length === 0 ? <EmptyState>No alarm needs attention on this asset.</EmptyState> : (
              <ul className="plain-list" data-testid="asset-alarms">
                {assetAlarms.slice(0, 50).map((al) => (
                  <li key={al.id}><PriorityBadge priority={al.priority} /> <AlarmStateBadge state={al.state} /> {al.point}: {al.description} <span className="muted">{formatAgo(al.activeSince ?? al.changedAt, tick)}</span></li>
                ))}
              </ul>
            )}
            <Link to={`/alarms?asset=${encodeURIComponent(assetId)}`}>Open in the alarm console</Link>
          </section>
          <section className="panel" aria-labelledby="maint-title">
            <h2 id="maint-title">Maintenance</h2>
            {stateOf(recs.state, { onRetry: recs.reload }) ?? (() => {
              const mine = recs.state.data!.recommendations.filter((r) => r.asset === assetId);
              const wos = (orders.state.data?.workOrders ?? []).filter((w) => w.asset === assetId);
              if (mine.length === 0 && wos.length === 0) return <EmptyState>No recommendations or work orders for this asset.</EmptyState>;
              return (
                <ul className="plain-list" data-testid="asset-maintenance">
                  {mine.map((r) => <li key={`r${r.id}`}><StatusBadge tone={r.status === 'open' ? 'warn' : 'idle'} label={r.status === 'open' ? 'recommended' : 'work order'} /> {r.method === 'asset' ? `points together (most: ${r.point}, z ${r.zScore.toFixed(1)})` : `${r.point}: ${formatValue(r.recentMean)} vs normal ${formatValue(r.baselineMean)} (z ${r.zScore.toFixed(1)})`} since {formatTime(r.since)}</li>)}
                  {wos.map((w) => <li key={`w${w.id}`}><StatusBadge tone={w.status === 'open' ? 'warn' : 'ok'} label={`${w.type} #${w.id} ${w.status}`} /> {w.title} <span className="muted">by {w.createdBy}, {formatTime(w.createdAt)}</span></li>)}
                </ul>
              );
            })()}
            <Link to="/maintenance">All maintenance</Link>
            <RelearnAsset site={site} asset={assetId} />
          </section>
        </div>
      </div>
    </>
  );
}
