/**
 * bench/live: live analytics under more detector work than its budget allows (issue 14: it
 * degrades gracefully — scores fewer points, and says so — rather than falling behind).
 *
 *   npm run bench:live -- [--points 2000] [--bucket-ms 1000] [--seconds 60] [--shares 1,0.5,0.25]
 *                         [--detector ensemble] [--noise 1]
 *
 * A feed on the wall clock, as ingest's would be: every 100 ms one batch per asset (10 points an
 * asset) with a sample for each point; buckets of `--bucket-ms`, so `--points` points close
 * points × 1000 / bucket-ms bucket means a second — 2,000 points at 1 s buckets offer what
 * 120,000 points at minute buckets would. Signals are noisy (the detectors' worst case, uniform
 * noise scaled by `--noise` on a slow sine). For each scoring share in `--shares` (1: the budget
 * can take the whole core, the baseline in the same run) a fresh LiveAnalytics runs `--seconds`:
 *
 * - bucket means offered, scored and skipped a second; points waiting; whether it said it was degraded;
 * - the process' CPU share (all of it: feed, bucketing and detectors) and the detectors' measured share;
 * - the event loop's delay (p50 / p99 / max, `monitorEventLoopDelay`) and the feed's lag (how late the
 *   last tick ran against its schedule): what ingest, alarm evaluation and the API would wait.
 *
 * The first `--warmup-seconds` of each run (default 10: the baseline buffers fill and the detectors
 * start) are left out of the figures.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Quality, type Sample } from '@shellguard/protocol';
import { LiveAnalytics, detectorFactories } from '@shellguard/server';
import { seededUniform as noise } from '@shellguard/server/testing';

const { values: args } = parseArgs({ options: {
  points: { type: 'string', default: '2000' }, 'bucket-ms': { type: 'string', default: '1000' }, seconds: { type: 'string', default: '60' },
  shares: { type: 'string', default: '1,0.5,0.25' }, detector: { type: 'string', default: 'ensemble' }, noise: { type: 'string', default: '1' },
  'warmup-seconds': { type: 'string', default: '10' },
} });
const POINTS = Number(args.points);
const BUCKET_MS = Number(args['bucket-ms']);
const SECONDS = Number(args.seconds);
const WARMUP_S = Number(args['warmup-seconds']);
const SHARES = args.shares.split(',').map(Number);
const NOISE = Number(args.noise);
const factory = detectorFactories[args.detector as keyof typeof detectorFactories];
if (!factory) throw new Error(`unknown detector ${args.detector}; known: ${Object.keys(detectorFactories).join(', ')}`);
if (!(POINTS > 0 && BUCKET_MS >= 100 && SECONDS > WARMUP_S && SHARES.every((s) => s > 0 && s <= 1))) {
  throw new Error('--points > 0, --bucket-ms >= 100, --seconds > --warmup-seconds and every share in (0, 1] please');
}
const TICK_MS = 100;
const PER_ASSET = 10;

interface Result {
  share: number; offered: number; scored: number; skipped: number; waitingEnd: number; degraded: boolean; episodes: number;
  cpu: number; detectorShare: number; loopP50: number; loopP99: number; loopMax: number; feedLagMs: number;
}

async function run(share: number): Promise<Result> {
  const rand = noise(14);
  const live = new LiveAnalytics({
    detector: factory, bucketMs: BUCKET_MS, scoreShare: share, multivariate: true,
    // Short learning so the detectors run within the warm-up (labelled in the output).
    baselineBuckets: 5, probationaryBuckets: 5, multivariateTrainBuckets: 5, multivariateScreenBuckets: 2,
  });
  const assets = Math.ceil(POINTS / PER_ASSET);
  const names = Array.from({ length: PER_ASSET }, (_, i) => `p${i}`);
  const start = Date.now();
  let tick = 0;
  let feedLagMs = 0;
  let at: { scored: number; skipped: number; work: number; cpu: NodeJS.CpuUsage; wall: number } | undefined;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const bar = (done: number) => process.stderr.write(`\r  share ${share}: ${'#'.repeat(Math.round(done * 30)).padEnd(30, '.')} ${(done * 100).toFixed(0)} %`);
  await new Promise<void>((resolve) => {
    const step = () => {
      const due = start + tick * TICK_MS;
      const now = Date.now();
      feedLagMs = Math.max(0, now - due);
      if (now < due) { setTimeout(step, due - now); return; }
      const batches = [];
      for (let a = 0; a < assets; a++) {
        const samples: Sample[] = [];
        for (let p = 0; p < PER_ASSET && a * PER_ASSET + p < POINTS; p++) {
          const level = 50 + 10 * Math.sin((due / 60_000) * (1 + p / 10));
          samples.push({ point: names[p]!, ts: due, value: level + NOISE * 10 * (rand() - 0.5), quality: Quality.good });
        }
        batches.push({ site: 'bench', asset: `A${a}`, samples });
      }
      live.ingestBatches(batches);
      live.flush(due);
      tick++;
      const elapsed = (due - start) / 1000;
      if (tick % 10 === 0) bar(elapsed / SECONDS);
      if (at === undefined && elapsed >= WARMUP_S) {
        const s = live.stats();
        at = { scored: s.minutesScored, skipped: s.bucketsSkipped, work: s.scoreWorkMs, cpu: process.cpuUsage(), wall: performance.now() };
        loop.enable();
      }
      if (elapsed >= SECONDS) { resolve(); return; }
      setImmediate(step);
    };
    step();
  });
  loop.disable();
  process.stderr.write('\n');
  const s = live.stats();
  const wallMs = performance.now() - at!.wall;
  const cpu = process.cpuUsage(at!.cpu);
  const measured = (SECONDS - WARMUP_S);
  return {
    share, offered: (POINTS * 1000) / BUCKET_MS, scored: (s.minutesScored - at!.scored) / measured, skipped: (s.bucketsSkipped - at!.skipped) / measured,
    waitingEnd: s.pointsWaiting, degraded: s.degradedEpisodes > 0, episodes: s.degradedEpisodes,
    cpu: (cpu.user + cpu.system) / 1000 / wallMs, detectorShare: (s.scoreWorkMs - at!.work) / wallMs,
    loopP50: loop.percentile(50) / 1e6, loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, feedLagMs,
  };
}

console.log(`bench/live: ${POINTS} points at ${BUCKET_MS} ms buckets (${((POINTS * 60_000) / BUCKET_MS).toLocaleString('en')} points at minute buckets), detector ${factory.name}, noise ${NOISE}, ${SECONDS} s per share (first ${WARMUP_S} s left out); learning periods shortened to 5 buckets`);
const results: Result[] = [];
for (const share of SHARES) results.push(await run(share));
const f = (n: number, d = 0) => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log('\nshare  offered/s  scored/s  skipped/s  waiting  degraded  process CPU  detectors  loop p50/p99/max ms  feed lag ms');
for (const r of results) {
  console.log(`${String(r.share).padEnd(5)}  ${f(r.offered).padStart(9)}  ${f(r.scored).padStart(8)}  ${f(r.skipped).padStart(9)}  ${f(r.waitingEnd).padStart(7)}  `
    + `${(r.degraded ? `yes (${r.episodes})` : 'no').padStart(8)}  ${`${f(r.cpu * 100)} %`.padStart(11)}  ${`${f(r.detectorShare * 100)} %`.padStart(9)}  `
    + `${`${f(r.loopP50, 1)} / ${f(r.loopP99, 1)} / ${f(r.loopMax, 0)}`.padStart(19)}  ${f(r.feedLagMs).padStart(11)}`);
}
