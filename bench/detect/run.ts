/**
 * bench/detect: what each detector costs per sample in its worst case, and its memory per point
 * (issue 14: at least 20,000 samples/s per core for every detector, bounded memory per point).
 *
 *   npm run bench:detect -- [--warmup 20000] [--seconds 20] [--points 200] [--detectors a,b] [--max-contexts N]
 *
 * Worst case: uniform noise, on which the contextual detectors learn a new context nearly every
 * step until their memory cap; each detector is fed `--warmup` samples, then timed for
 * `--seconds` (at its cap). Memory per point: `--points` detectors each fed the same
 * noise, heap measured before and after (gc exposed with --expose-gc when available).
 * resonance, dual-vigilance and the ensemble (which holds a resonance) are timed twice: as NAB
 * runs them and without their downsampling (the worst case, as live analytics runs them).
 * The multivariate detector is timed per asset-sample (an 11-point vector) and per point-sample.
 * The baseline in the same run is a bare loop over the same noise that computes a running mean
 * (what no detector can beat). `--detectors` (comma-separated names, e.g.
 * contextualAnomaly,shellguard) times only those detectors; multivariate is one of the names.
 * `--max-contexts N`: the contextual detectors (contextualAnomaly, shellguard and the ensemble's
 * shellguard member) with their context memory capped at N instead of the shipped 20,000 (the
 * ensemble's: 10,000) — what a
 * smaller memory per point costs and saves (bench/nab/cap-sweep gives the NAB score at each cap).
 */
import { parseArgs } from 'node:util';
import { detectorFactories, MultivariateDetector, type DetectorFactory } from '@shellguard/server';
import {
  DEFAULT_CONTEXTUAL_ANOMALY, DEFAULT_ENSEMBLE, DEFAULT_SHELLGUARD, contextualAnomalyFactory, ensembleFactory, seededUniform as noise, shellguardFactory,
} from '@shellguard/server/testing';

const { values: args } = parseArgs({ options: {
  warmup: { type: 'string', default: '20000' }, seconds: { type: 'string', default: '20' }, points: { type: 'string', default: '200' },
  detectors: { type: 'string' }, 'max-contexts': { type: 'string' },
} });
/** Noise samples before timing: fills every detector's memory to its cap. */
const warmup = Number(args.warmup);
/** Seconds each detector is timed for (at its cap). */
const seconds = Number(args.seconds);
const points = Number(args.points);
/** Detectors to time (all when not given). */
const only = args.detectors === undefined ? undefined : new Set(args.detectors.split(',').map((n) => n.trim()).filter(Boolean));
const selected = (name: string): boolean => only === undefined || only.has(name);
if (only !== undefined) {
  const known = new Set([...Object.keys(detectorFactories), 'multivariate']);
  const unknown = [...only].filter((n) => !known.has(n));
  if (unknown.length > 0) throw new Error(`unknown detector(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
}
/** The contextual detectors' context cap, when not the shipped one. */
const maxContexts = args['max-contexts'] === undefined ? undefined : Number(args['max-contexts']);
if (maxContexts !== undefined && !(Number.isInteger(maxContexts) && maxContexts > 0)) throw new Error(`--max-contexts: a positive integer, not "${args['max-contexts']}"`);
/** The catalog's detectors, the contextual ones capped at `maxContexts` when given. */
function factories(): Record<string, DetectorFactory> {
  if (maxContexts === undefined) return { ...detectorFactories };
  const cad = { ...DEFAULT_CONTEXTUAL_ANOMALY, maxContexts };
  const shellguard = { ...DEFAULT_SHELLGUARD, cad: { ...DEFAULT_SHELLGUARD.cad, maxContexts } };
  return {
    ...detectorFactories,
    contextualAnomaly: contextualAnomalyFactory(cad), shellguard: shellguardFactory(shellguard), ensemble: ensembleFactory({ ...DEFAULT_ENSEMBLE, shellguard }),
  };
}
const TARGET = 20_000;
const MINUTE = 60_000;
const options = { inputMin: 0, inputMax: 1, probationaryPeriod: 750 };

function progress(label: string, f: number): void {
  if (!process.stderr.isTTY) return;
  const w = 30;
  process.stderr.write(`\r\x1b[K${label.padEnd(22)} [${'#'.repeat(Math.round(f * w)).padEnd(w)}] ${(100 * f).toFixed(0)}%`);
}

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:detect does)');
  gc();
  gc();
  // Typed arrays' backing stores live outside the JS heap.
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Holds the measured detectors until their heap is read (V8 may free what the code no longer uses). */
let retained: unknown[] = [];

interface Row { detector: string; samplesPerSecond: number; slowestSecond?: number; bytesPerPoint: number; note: string }
const rows: Row[] = [];

// Baseline: a running mean over the same noise.
{
  const rnd = noise(7);
  let mean = 0;
  const t0 = performance.now();
  const n = 10_000_000;
  for (let i = 0; i < n; i++) mean += (rnd() - mean) / (i + 1);
  const s = (performance.now() - t0) / 1000;
  rows.push({ detector: 'baseline: running mean', samplesPerSecond: n / s, bytesPerPoint: 8, note: `mean ${mean.toFixed(3)}` });
}

/** Samples/s of one detector at its cap: `warmup` noise samples, then timed for `seconds`. */
function timeAtCap(name: string, factory: DetectorFactory, opts = options): { rate: number; slowest: number } {
  const rnd = noise(7);
  const d = factory.create(opts);
  let i = 0;
  for (; i < warmup; i++) {
    d.update({ ts: i * MINUTE, value: rnd() });
    if (i % 500 === 0) progress(`${name} warm-up`, i / warmup);
  }
  const t0 = performance.now();
  let timed = 0;
  // The slowest window of at least a second (or the whole run when shorter).
  let windowStart = t0;
  let windowSamples = 0;
  let slowest = Infinity;
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 100; k++) d.update({ ts: (i + timed + k) * MINUTE, value: rnd() });
    timed += 100;
    windowSamples += 100;
    const now = performance.now();
    if (now - windowStart >= 1000) {
      slowest = Math.min(slowest, windowSamples / ((now - windowStart) / 1000));
      windowStart = now;
      windowSamples = 0;
    }
    progress(`${name} timed`, (now - t0) / (seconds * 1000));
  }
  const rate = timed / ((performance.now() - t0) / 1000);
  return { rate, slowest: Number.isFinite(slowest) ? slowest : rate };
}

/** Heap per detector: `count` detectors each fed `fill` noise samples, held until measured. */
function memoryPerDetector(name: string, factory: DetectorFactory, count: number, fill: number, opts = options): number {
  retained = [];
  const before = heap();
  for (let p = 0; p < count; p++) {
    const r = noise(100 + p);
    const x = factory.create(opts);
    for (let k = 0; k < fill; k++) x.update({ ts: k * MINUTE, value: r() });
    retained.push(x);
    progress(`${name} memory`, (p + 1) / count);
  }
  return (heap() - before) / count;
}

for (const [name, factory] of Object.entries(factories())) {
  if (!selected(name)) continue;
  const { rate, slowest } = timeAtCap(name, factory);
  // As many detectors as fit in ~10 s of feeding (at least 5), 3,000 noise samples each.
  const fill = 3000;
  const count = Math.min(points, Math.max(5, Math.floor((rate * 10) / fill)));
  const bytes = memoryPerDetector(name, factory, count, fill);
  rows.push({ detector: name, samplesPerSecond: rate, slowestSecond: slowest, bytesPerPoint: bytes, note: `slowest second ${Math.round(slowest).toLocaleString('en')}/s; memory: ${count} detectors after ${fill.toLocaleString('en')} noise samples each` });
  if (name === 'resonance' || name === 'ensemble' || name === 'dual-vigilance') {
    // A downsampling detector's worst case is a short probationary period (live analytics: 120
    // bucket means): no downsampling, every sample matched against every category; the ensemble
    // holds a resonance.
    const short = { ...options, probationaryPeriod: 100 };
    const { rate: r, slowest: rs } = timeAtCap(`${name} no downsampling`, factory, short);
    const b = memoryPerDetector(name, factory, Math.min(points, 200), fill, short);
    rows.push({ detector: `${name} (no downsampling)`, samplesPerSecond: r, slowestSecond: rs, bytesPerPoint: b, note: `slowest second ${Math.round(rs).toLocaleString('en')}/s; probationary period 100: every sample is a feature vector` });
  }
}

if (selected('multivariate')) {
  const width = 11;
  const rnd = noise(9);
  const next = (): number[] => Array.from({ length: width }, () => rnd());
  const d = new MultivariateDetector(Array.from({ length: width }, (_, i) => `p${i}`), { trainSamples: 10_080, reservoir: 10_080 });
  for (let i = 0; i < 10_080; i++) d.update(next(), i);
  const vectors = Array.from({ length: 1000 }, next);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 1000; k++) d.update(vectors[k]!, 10_080 + n + k);
    n += 1000;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  retained = [];
  const before = heap();
  const keep: unknown[] = retained;
  for (let p = 0; p < Math.max(1, Math.floor(points / width)); p++) {
    const x = new MultivariateDetector(Array.from({ length: width }, (_, i) => `p${i}`), { trainSamples: 1000, reservoir: 1000 });
    for (let i = 0; i < 1001; i++) x.update(vectors[i % 1000]!, i);
    keep.push(x);
  }
  const bytes = (heap() - before) / keep.length / width;
  rows.push({ detector: `multivariate (T2+Q, ${width} points)`, samplesPerSecond: rate * width, bytesPerPoint: bytes, note: `${Math.round(rate).toLocaleString('en')} asset-vectors/s; memory after the fit (training holds the normal period)` });
}
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
if (retained.length === 0) throw new Error('no detectors were measured');

process.stdout.write(`bench/detect: ${warmup.toLocaleString('en')} noise samples of warm-up, then ${seconds} s timed per detector${seconds < 20 ? ' (SHORT run)' : ''}${only === undefined ? '' : ` (only ${[...only].join(', ')})`}; target ${TARGET.toLocaleString('en')} samples/s per core${maxContexts === undefined ? '' : `; contextual detectors capped at ${maxContexts.toLocaleString('en')} contexts (shipped: ${DEFAULT_CONTEXTUAL_ANOMALY.maxContexts.toLocaleString('en')}, the ensemble's ${DEFAULT_ENSEMBLE.shellguard.cad.maxContexts.toLocaleString('en')})`}\n\n`);
process.stdout.write('detector                               samples/s/core   meets 20k   bytes/point  note\n');
for (const r of rows) {
  process.stdout.write(`${r.detector.padEnd(38)} ${Math.round(r.samplesPerSecond).toLocaleString('en').padStart(14)}   ${(r.detector.startsWith('baseline') ? '' : r.samplesPerSecond >= TARGET ? 'yes' : 'NO').padStart(9)}   ${Math.round(r.bytesPerPoint).toLocaleString('en').padStart(11)}  ${r.note}\n`);
}
process.stdout.write(`${JSON.stringify({ warmup, seconds, points, maxContexts: maxContexts ?? DEFAULT_CONTEXTUAL_ANOMALY.maxContexts, ensembleMaxContexts: maxContexts ?? DEFAULT_ENSEMBLE.shellguard.cad.maxContexts, rows })}\n`);
