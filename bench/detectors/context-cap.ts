/**
 * The contextual detector on a long run of noise: does its memory stay within the cap, and what
 * does scoring cost once the context tables are full? The baseline in the same run is the
 * windowed-Gaussian detector on the same samples (a constant-cost detector).
 *
 *   node --import tsx bench/detectors/context-cap.ts [--samples 1000000] [--max-contexts 300]
 *
 * Noise is the worst case for CAD: nearly every step is a new context until the cap is reached.
 * This used to be a unit test; it takes minutes on a loaded 2-core machine, so it lives here.
 */
import { parseArgs } from 'node:util';
import { ContextualAnomaly, DEFAULT_CONTEXTUAL_ANOMALY, windowedGaussian } from '@shellguard/server/testing';
import { seededUniform as noise } from '@shellguard/server/testing';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '1000000' },
    'max-contexts': { type: 'string', default: '300' },
  },
});
const samples = Number(args.samples);
const maxContexts = Number(args['max-contexts']);
if (!Number.isInteger(samples) || samples < 1 || !Number.isInteger(maxContexts) || maxContexts < 1) {
  console.error('usage: context-cap.ts [--samples N] [--max-contexts N]');
  process.exit(2);
}

const MINUTE = 60_000;
const options = { inputMin: 0, inputMax: 1, probationaryPeriod: 750 };

function progress(label: string, done: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const f = done / samples;
  process.stderr.write(`\r\x1b[K${label} [${'#'.repeat(Math.round(f * width)).padEnd(width)}] ${(f * 100).toFixed(0)}%`);
}

// Baseline: constant-cost detector, same samples.
{
  const rnd = noise(11);
  const d = windowedGaussian.create(options);
  const t0 = performance.now();
  for (let i = 0; i < samples; i++) {
    d.update({ ts: i * MINUTE, value: rnd() });
    if (i % 100_000 === 0) progress('windowed gaussian', i);
  }
  const s = (performance.now() - t0) / 1000;
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  console.log(`baseline windowedGaussian: ${samples} samples in ${s.toFixed(1)} s = ${(samples / s).toFixed(0)} samples/s`);
}

{
  const rnd = noise(11);
  const d = new ContextualAnomaly(options, { ...DEFAULT_CONTEXTUAL_ANOMALY, maxContexts });
  const heapBefore = process.memoryUsage().heapUsed;
  let peak = 0;
  let capReachedAt = -1;
  let windowStart = performance.now();
  const t0 = windowStart;
  const windowSize = Math.max(1, Math.floor(samples / 10));
  const rates: string[] = [];
  for (let i = 0; i < samples; i++) {
    d.update({ ts: i * MINUTE, value: rnd() });
    if (d.contextCount > peak) peak = d.contextCount;
    if (capReachedAt < 0 && d.contextCount >= maxContexts) capReachedAt = i;
    if ((i + 1) % windowSize === 0) {
      const now = performance.now();
      rates.push((windowSize / ((now - windowStart) / 1000)).toFixed(0));
      windowStart = now;
    }
    if (i % 10_000 === 0) progress(`contextual anomaly (cap ${maxContexts})`, i);
  }
  const s = (performance.now() - t0) / 1000;
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  console.log(`contextualAnomaly: ${samples} samples in ${s.toFixed(1)} s = ${(samples / s).toFixed(0)} samples/s`);
  console.log(`  samples/s per tenth of the run: ${rates.join(', ')}`);
  console.log(`  contexts: peak ${peak}, final ${d.contextCount} (cap ${maxContexts}, reached at sample ${capReachedAt}); semi-contexts ${d.semiContextCount} (bound ${2 * maxContexts})`);
  console.log(`  heap growth ${heapMb.toFixed(1)} MB`);
  if (peak > maxContexts || d.semiContextCount > 2 * maxContexts) {
    console.error('FAIL: the context tables grew past their cap');
    process.exit(1);
  }
}
