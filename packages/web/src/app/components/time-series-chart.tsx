/**
 * A uPlot chart of one or more series on a shared time axis: values on the left axis (several
 * points on one chart), an optional anomaly score 0–1 on the right, alarm limits as dashed lines,
 * and for aggregated data the min–max band around the mean. Drag to zoom (the parent hears the
 * new range and may re-read at a finer resolution), double-click to go back.
 *
 * uPlot draws on a canvas, so the chart also carries a text summary (aria-label) and the parent
 * shows the numbers in a table: nothing is only in the picture.
 */
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  unit: string;
  /** Epoch ms, ascending. */
  ts: readonly number[];
  values: readonly (number | null)[];
  /** With aggregated data: the bucket minimum and maximum, drawn as a band. */
  min?: readonly (number | null)[];
  max?: readonly (number | null)[];
  /** Draws on the right-hand 0–1 axis (anomaly scores). */
  score?: boolean;
}

export interface ChartLimit {
  value: number;
  label: string;
  /** hh/ll: critical, h/l: warning. */
  severity: 'high' | 'low';
}

export interface TimeSeriesChartProps {
  series: readonly ChartSeries[];
  limits?: readonly ChartLimit[];
  from: number;
  to: number;
  height?: number;
  onZoom?(from: number, to: number): void;
  label: string;
  testId?: string;
}

const COLOURS = ['#1f6feb', '#c2410c', '#15803d', '#7e22ce', '#0e7490', '#a16207', '#be123c', '#4d7c0f'];
const SCORE_COLOUR = '#6b7280';

function toSeconds(ts: readonly number[]): number[] {
  return ts.map((t) => t / 1000);
}

/** Aligns every series on one x axis: uPlot's join (nulls where a series has no sample). */
function alignedData(series: readonly ChartSeries[]): uPlot.AlignedData {
  if (series.length === 0) return [[]];
  const tables: uPlot.AlignedData[] = series.map((s) => {
    const cols: (number | null)[][] = [s.values as (number | null)[]];
    if (s.min && s.max) cols.push(s.min as (number | null)[], s.max as (number | null)[]);
    return [toSeconds(s.ts), ...cols] as uPlot.AlignedData;
  });
  return tables.length === 1 ? tables[0]! : uPlot.join(tables);
}

function limitsPlugin(limits: readonly ChartLimit[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.font = `${11 * devicePixelRatio}px sans-serif`;
        // uPlot leaves the alignment of its last axis label behind.
        ctx.textAlign = 'left';
        ctx.textBaseline = 'alphabetic';
        for (const l of limits) {
          const y = u.valToPos(l.value, 'y', true);
          if (!Number.isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
          ctx.strokeStyle = l.severity === 'high' ? '#b91c1c' : '#b45309';
          ctx.fillStyle = ctx.strokeStyle;
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.fillText(l.label, u.bbox.left + 4 * devicePixelRatio, y - 3 * devicePixelRatio);
        }
        ctx.restore();
      }],
    },
  };
}

/**
 * The value axis covers the data and the nearest limit above and below it, so an operator sees
 * how far a value is from its alarm, not only how it wiggles.
 */
export function rangeWithLimits(min: number | null, max: number | null, limits: readonly ChartLimit[]): uPlot.Range.MinMax {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  let lo = min;
  let hi = max;
  const above = limits.map((l) => l.value).filter((v) => v >= max).sort((a, b) => a - b)[0];
  const below = limits.map((l) => l.value).filter((v) => v <= min).sort((a, b) => b - a)[0];
  if (above !== undefined) hi = above;
  if (below !== undefined) lo = below;
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

export function TimeSeriesChart(props: TimeSeriesChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const onZoom = useRef(props.onZoom);
  useEffect(() => { onZoom.current = props.onZoom; });
  const data = useMemo(() => alignedData(props.series), [props.series]);
  // The chart is rebuilt when the set of series or the limits change; new data alone is setData.
  const shape = props.series.map((s) => `${s.label}|${s.unit}|${s.score ? 1 : 0}|${s.min ? 1 : 0}`).join(';')
    + `#${(props.limits ?? []).map((l) => `${l.label}=${l.value}`).join(',')}`;
  const hasScore = props.series.some((s) => s.score);

  useEffect(() => {
    const el = host.current;
    if (!el) return undefined;
    const seriesOpts: uPlot.Series[] = [{ label: 'time' }];
    const bands: uPlot.Band[] = [];
    let col = 1;
    props.series.forEach((s, i) => {
      const colour = s.score ? SCORE_COLOUR : COLOURS[i % COLOURS.length]!;
      seriesOpts.push({
        label: s.unit ? `${s.label} (${s.unit})` : s.label, stroke: colour, width: s.score ? 1 : 1.5, scale: s.score ? 'score' : 'y',
        ...(s.score ? { dash: [4, 3] } : {}), spanGaps: false,
        value: (_u, v) => (v === null || v === undefined ? '—' : s.score ? v.toFixed(2) : v.toFixed(2)),
      });
      col++;
      if (s.min && s.max) {
        seriesOpts.push({ label: `${s.label} min`, stroke: `${colour}55`, width: 0.5, scale: 'y' }, { label: `${s.label} max`, stroke: `${colour}55`, width: 0.5, scale: 'y' });
        bands.push({ series: [col + 1, col], fill: `${colour}22` });
        col += 2;
      }
    });
    const axes: uPlot.Axis[] = [{}, { scale: 'y', size: 60 }];
    if (hasScore) axes.push({ scale: 'score', side: 1, size: 40, grid: { show: false }, label: 'score' });
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: props.height ?? 280,
      series: seriesOpts,
      bands,
      axes,
      scales: {
        x: { time: true, min: props.from / 1000, max: props.to / 1000 },
        y: { range: (_u, min, max) => rangeWithLimits(min, max, props.limits ?? []) },
        score: { range: [0, 1] },
      },
      cursor: { drag: { x: true, y: false } },
      legend: { show: true },
      plugins: props.limits && props.limits.length > 0 ? [limitsPlugin(props.limits)] : [],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 5) return;
          const from = u.posToVal(u.select.left, 'x') * 1000;
          const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
          onZoom.current?.(Math.round(from), Math.round(to));
        }],
      },
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: el.clientWidth || 600, height: props.height ?? 280 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt on shape changes only: data and range updates go through setData/setScale below.
  }, [shape, props.height]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(data, false);
    u.setScale('x', { min: props.from / 1000, max: props.to / 1000 });
  }, [data, props.from, props.to]);

  const summary = props.series.filter((s) => !s.score).map((s) => {
    const last = [...s.values].reverse().find((v) => v !== null);
    return `${s.label}: ${s.values.length} values, latest ${last === undefined || last === null ? 'none' : last.toFixed(2)} ${s.unit}`;
  }).join('; ');
  return (
    <div className="chart" data-testid={props.testId ?? 'chart'} data-points={props.series.reduce((n, s) => n + s.values.length, 0)}>
      <div ref={host} role="img" aria-label={`${props.label}. ${summary || 'no data'}`} onDoubleClick={() => onZoom.current?.(Number.NaN, Number.NaN)} />
    </div>
  );
}
