/**
 * bench/multivariate: the simulator's labelled fault episodes (packages/sim/src/datasets) scored
 * by the multivariate detector (T² + Q on the asset's points together) and, in the same run, by
 * the univariate baseline the issue measured: each point alone (its exponentially weighted
 * z-score, the same smoothing), combined by maximum, its limit calibrated the same way (the same
 * quantile of the normal period). Point-wise F1, false-alarm rate (FP / (FP + TN)) and
 * missed-alarm rate (FN / (FN + TP)) over the test periods, as SKAB scores; per fault kind, the
 * share of episodes detected and the median delay from the fault's start to the first alarm.
 *
 * Also in the same run, the production per-point path (live analytics' detector and drift score,
 * multivariate off) fed the same minute means from the episode's first minute, as a server would:
 * its recommendations are episodes, not per-sample alarms, so it is scored per episode — false
 * recommendations during the normal period and before the fault, faults detected, median delay —
 * with its drift baseline learned over a day and then following the healthy level (the default),
 * learned over a day and fixed, and learned over the first hour (before issue 14's fix).
 *
 *   npm run bench:multivariate -- [--per-kind 3] [--normal-days 7] [--test-days 3] [--margin 1.5] [--no-point-path] [--point-tunings all|shipped] [--point-detector NAME] [--json]
 *
 * `--point-tunings shipped`: the per-point path with the shipped tuning only (each tuning replays
 * every episode through live analytics: the three together take most of the run's time).
 * `--point-detector NAME`: the per-point path with that detector (a name of `detectorFactories`)
 * instead of live analytics' default.
 *
 * `--margin`: the control limits are this many times the normal period's quantile, for both
 * detectors (default: the multivariate detector's `limitMargin`).
 */
import { Quality } from '@shellguard/protocol';
import { faultEpisodes, type FaultEpisode } from '@shellguard/sim';
import { LiveAnalytics, MultivariateDetector, DEFAULT_MULTIVARIATE, detectorFactories, type DetectorFactory } from '@shellguard/server';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function textFlag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const margin = flag('margin', DEFAULT_MULTIVARIATE.limitMargin);

/** Each point alone: |EWMA z| against the normal period, the largest of them against its own normal quantile. */
class UnivariateMax {
  readonly #points: number;
  readonly #a = DEFAULT_MULTIVARIATE.smoothing;
  #mean: number[] = [];
  #std: number[] = [];
  #z: number[] = [];
  #limit = Infinity;
  #over = 0;
  constructor(points: number) { this.#points = points; }
  train(rows: number[][]): void {
    const d = this.#points;
    this.#mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
    this.#std = Array.from({ length: d }, (_, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j]! - this.#mean[j]!) ** 2, 0) / (rows.length - 1)) || 1e-6);
    const tail = rows;
    this.#z = [];
    const maxes = tail.map((r) => this.#step(r)).slice(Math.ceil(3 / this.#a)).sort((x, y) => x - y);
    this.#limit = maxes[Math.min(maxes.length - 1, Math.ceil(DEFAULT_MULTIVARIATE.limitQuantile * maxes.length) - 1)]! * margin;
    this.#z = [];
  }
  #step(r: number[]): number {
    let max = 0;
    for (let j = 0; j < this.#points; j++) {
      const z = (r[j]! - this.#mean[j]!) / this.#std[j]!;
      this.#z[j] = this.#z.length > j ? this.#a * z + (1 - this.#a) * this.#z[j]! : z;
      max = Math.max(max, Math.abs(this.#z[j]!));
    }
    return max;
  }
  alarm(r: number[]): boolean {
    this.#over = this.#step(r) >= this.#limit ? this.#over + 1 : 0;
    return this.#over >= DEFAULT_MULTIVARIATE.sustain;
  }
}

interface Counts { tp: number; fp: number; fn: number; tn: number }
interface EpisodeResult { episode: FaultEpisode; counts: Counts; detectedAfterH?: number; falseBeforeFault: boolean }

function score(e: FaultEpisode, alarms: boolean[]): EpisodeResult {
  const counts: Counts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  let first: number | undefined;
  let falseBeforeFault = false;
  for (let i = e.normalSamples; i < e.ts.length; i++) {
    const y = e.labels[i] === 1;
    const a = alarms[i - e.normalSamples]!;
    if (a && y) { counts.tp++; first ??= i; }
    else if (a) { counts.fp++; falseBeforeFault = true; }
    else if (y) counts.fn++;
    else counts.tn++;
  }
  return { episode: e, counts, ...(first !== undefined ? { detectedAfterH: (first - e.faultStart) / 60 } : {}), falseBeforeFault };
}

function runMultivariate(e: FaultEpisode): { result: EpisodeResult; samplesPerSecond: number } {
  const det = new MultivariateDetector(e.points, { trainSamples: e.normalSamples, reservoir: e.normalSamples, limitMargin: margin });
  for (let i = 0; i < e.normalSamples; i++) det.update(e.values[i]!, e.ts[i]!);
  const alarms: boolean[] = [];
  const t0 = performance.now();
  for (let i = e.normalSamples; i < e.ts.length; i++) alarms.push(det.update(e.values[i]!, e.ts[i]!).alarm);
  const s = (performance.now() - t0) / 1000;
  return { result: score(e, alarms), samplesPerSecond: (e.ts.length - e.normalSamples) / s };
}

function runUnivariate(e: FaultEpisode): EpisodeResult {
  const det = new UnivariateMax(e.points.length);
  det.train(e.values.slice(0, e.normalSamples));
  const alarms: boolean[] = [];
  for (let i = e.normalSamples; i < e.ts.length; i++) alarms.push(det.alarm(e.values[i]!));
  return score(e, alarms);
}

/** The production per-point path on one episode: its recommendations, scored per episode. */
interface PointPathResult { episode: FaultEpisode; normalRecs: number; falseBeforeFault: boolean; detectedAfterH?: number }

function runPointPath(e: FaultEpisode, tuning: { driftBaselineBuckets: number; driftAdaptBuckets?: number }): PointPathResult {
  const recs: number[] = [];
  // No scoring budget here (the clock stands still): the bench replays days in seconds.
  const live = new LiveAnalytics({
    clock: () => 0, multivariate: false, ...tuning, ...(pointDetector ? { detector: pointDetector } : {}), onSustained: (ev) => recs.push(ev.at),
  });
  for (let i = 0; i < e.ts.length; i++) {
    const row = e.values[i]!;
    live.ingestBatches([{ site: 'bench', asset: e.id, samples: e.points.map((point, j) => ({ point, ts: e.ts[i]!, value: row[j]!, quality: Quality.good })) }]);
  }
  const testStart = e.ts[e.normalSamples]!;
  const faultAt = e.faultStart >= 0 ? e.ts[e.faultStart]! : Infinity;
  const first = recs.find((at) => at >= faultAt);
  return {
    episode: e, normalRecs: recs.filter((at) => at < testStart).length,
    falseBeforeFault: recs.some((at) => at >= testStart && at < faultAt),
    ...(first !== undefined ? { detectedAfterH: (first - faultAt) / 3_600_000 } : {}),
  };
}

function summary(rs: EpisodeResult[]): { f1: number; far: number; mar: number; precision: number; recall: number } {
  const c = rs.reduce((a, r) => ({ tp: a.tp + r.counts.tp, fp: a.fp + r.counts.fp, fn: a.fn + r.counts.fn, tn: a.tn + r.counts.tn }), { tp: 0, fp: 0, fn: 0, tn: 0 });
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  return { f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0, far: c.fp / Math.max(1, c.fp + c.tn), mar: c.fn / Math.max(1, c.fn + c.tp), precision, recall };
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Median hours from the fault's start to the first alarm, over the episodes that saw it. */
const medianDelay = (rs: readonly { detectedAfterH?: number }[]): number | undefined =>
  median(rs.flatMap((r) => (r.detectedAfterH === undefined ? [] : [r.detectedAfterH])));

const perKind = flag('per-kind', 3);
const normalDays = flag('normal-days', 7);
const testDays = flag('test-days', 3);
const t0 = performance.now();
const episodes = faultEpisodes({ perKind, normalDays, testDays });
const built = (performance.now() - t0) / 1000;
process.stdout.write(`bench/multivariate: ${episodes.length} episodes (AHU and CRAH × ${perKind} × 6 kinds), ${normalDays} normal + ${testDays} test days at 1 sample/min, limits ${margin} × the normal quantile, built in ${built.toFixed(1)} s\n`);

const pointPath = !process.argv.includes('--no-point-path');
const pointTunings = textFlag('point-tunings') ?? 'all';
if (pointTunings !== 'all' && pointTunings !== 'shipped') throw new Error(`--point-tunings: "all" or "shipped", not "${pointTunings}"`);
const pointDetectorName = textFlag('point-detector');
const pointDetector: DetectorFactory | undefined = pointDetectorName === undefined ? undefined : detectorFactories[pointDetectorName];
if (pointDetectorName !== undefined && pointDetector === undefined) throw new Error(`--point-detector: one of ${Object.keys(detectorFactories).join(', ')}, not "${pointDetectorName}"`);
const POINT_BASELINES = [
  { name: 'point path, day baseline', tuning: { driftBaselineBuckets: 1_440 } },
  { name: '  ... never following', tuning: { driftBaselineBuckets: 1_440, driftAdaptBuckets: 0 } },
  { name: 'point path, hour baseline', tuning: { driftBaselineBuckets: 60, driftAdaptBuckets: 0 } },
].slice(0, pointTunings === 'shipped' ? 1 : undefined);
const multi: EpisodeResult[] = [];
const uni: EpisodeResult[] = [];
const points: PointPathResult[][] = POINT_BASELINES.map(() => []);
const rates: number[] = [];
episodes.forEach((e, i) => {
  const m = runMultivariate(e);
  multi.push(m.result);
  rates.push(m.samplesPerSecond);
  uni.push(runUnivariate(e));
  if (pointPath) POINT_BASELINES.forEach((b, k) => points[k]!.push(runPointPath(e, b.tuning)));
  const w = 30;
  const done = Math.round(((i + 1) / episodes.length) * w);
  process.stderr.write(`\r  [${'#'.repeat(done)}${' '.repeat(w - done)}] ${i + 1}/${episodes.length} ${e.id}      `);
});
process.stderr.write('\n');

const kinds = [...new Set(episodes.map((e) => e.fault))];
const line = (name: string, rs: EpisodeResult[]): string => {
  const s = summary(rs);
  return `${name.padEnd(26)} ${s.f1.toFixed(3).padStart(6)} ${s.precision.toFixed(3).padStart(9)} ${s.recall.toFixed(3).padStart(7)} ${(100 * s.far).toFixed(2).padStart(7)}% ${(100 * s.mar).toFixed(1).padStart(6)}%`;
};
process.stdout.write(`\ndetector                       F1  precision  recall     FAR     MAR\n${line('T2+Q (multivariate)', multi)}\n${line('max |z| per point', uni)}\n`);
process.stdout.write('\nfault            episodes  T2+Q detected  median delay h  false alarms   |  max|z| detected  median delay h  false alarms\n');
for (const k of kinds) {
  const m = multi.filter((r) => r.episode.fault === k);
  const u = uni.filter((r) => r.episode.fault === k);
  const det = (rs: EpisodeResult[]) => `${rs.filter((r) => r.detectedAfterH !== undefined).length}/${rs.length}`;
  const delay = (rs: EpisodeResult[]) => { const d = medianDelay(rs); return d === undefined ? '-' : d.toFixed(1); };
  const fa = (rs: EpisodeResult[]) => `${rs.filter((r) => r.falseBeforeFault).length}/${rs.length}`;
  process.stdout.write(`${k.padEnd(16)} ${String(m.length).padStart(8)}  ${det(m).padStart(13)}  ${delay(m).padStart(14)}  ${fa(m).padStart(12)}   |  ${det(u).padStart(15)}  ${delay(u).padStart(14)}  ${fa(u).padStart(12)}\n`);
}
if (pointPath) {
  process.stdout.write(`\nthe production per-point path, detector ${pointDetectorName ?? 'default'} (recommendations, any point of the vector; the server keeps those on wear indicators):\n`);
  process.stdout.write('path                        recs in normal period (episodes)  false before fault  detected  median delay h\n');
  POINT_BASELINES.forEach((b, k) => {
    const rs = points[k]!;
    const faulty = rs.filter((r) => r.episode.fault !== 'none');
    const delay = medianDelay(faulty);
    process.stdout.write(`${b.name.padEnd(27)} ${String(rs.reduce((a, r) => a + r.normalRecs, 0)).padStart(5)} (${rs.filter((r) => r.normalRecs > 0).length}/${rs.length})`.padEnd(62)
      + `${rs.filter((r) => r.falseBeforeFault).length}/${rs.length}`.padStart(8)
      + `${faulty.filter((r) => r.detectedAfterH !== undefined).length}/${faulty.length}`.padStart(12)
      + `${delay === undefined ? '-' : delay.toFixed(1)}`.padStart(16) + '\n');
  });
  process.stdout.write('per fault kind, day baseline: ' + kinds.map((k) => {
    const rs = points[0]!.filter((r) => r.episode.fault === k);
    const d = medianDelay(rs);
    return `${k} ${rs.filter((r) => r.detectedAfterH !== undefined).length}/${rs.length}${d === undefined ? '' : ` ${d.toFixed(1)} h`}`;
  }).join(', ') + '\n');
}
const rate = median(rates)!;
process.stdout.write(`\nmultivariate scoring: median ${Math.round(rate).toLocaleString('en')} asset-samples/s (${episodes[0]!.points.length}-${episodes.at(-1)!.points.length} points each, one core)\n`);
if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ episodes: episodes.length, multivariate: summary(multi), univariate: summary(uni), samplesPerSecond: rate })}\n`);
}
