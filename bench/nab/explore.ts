/**
 * bench/nab/explore: NAB scores of a detector's configuration variants, side by side (for choosing
 * a configuration; the cross-validated choice is bench/nab/cross-validate.ts). Beside each
 * profile's full-set score (in-sample: its threshold is chosen on every file), the standard
 * profile's pooled held-out score with the configuration fixed: each category with windows scored
 * at the threshold chosen on the other categories. Compare variants by the held-out figure; the
 * full-set one rewards fitting the shared files.
 *
 *   node --import tsx bench/nab/explore.ts [--detector resonance|dual-vigilance] '{"vigilance":0.85}' '{"vigilance":0.9}' …
 *
 * (the JSON objects are changes to the detector's default configuration; resonance when not given)
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DetectorFactory } from '@shellguard/server';
import { DEFAULT_DUAL_VIGILANCE, DEFAULT_RESONANCE, dualVigilanceFactory, resonanceFactory } from '@shellguard/server/testing';
import { runDetector } from './benchmark.ts';
import {
  loadNabCorpus, optimizeThreshold, scoreCorpus, scoreDetector, NULL_DETECTOR_SCORE,
  type CostMatrix, type ScoredFile,
} from './scorer/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = loadNabCorpus(path.resolve(ROOT, '../shared/datasets/nab'));
const categoryOf = (file: string): string => file.split('/')[0]!;
const heldOut = [...new Set(corpus.files.filter((f) => f.windows.length > 0).map((f) => categoryOf(f.name)))].sort();

/** Pooled held-out score: every category with windows scored at the threshold of the others. */
function heldOutScore(files: readonly ScoredFile[], costs: CostMatrix): { pooled: number; thresholds: number[] } {
  let raw = 0;
  let nullRaw = 0;
  let perfect = 0;
  const thresholds: number[] = [];
  for (const category of heldOut) {
    const test = files.filter((f) => categoryOf(f.name) === category);
    const { threshold } = optimizeThreshold(files.filter((f) => categoryOf(f.name) !== category), costs);
    thresholds.push(threshold);
    raw += scoreCorpus(test, costs, threshold).score;
    const nullFiles = test.map((f) => ({ ...f, anomalyScores: f.anomalyScores.map(() => NULL_DETECTOR_SCORE) }));
    nullRaw += scoreCorpus(nullFiles, costs, optimizeThreshold(nullFiles, costs).threshold).score;
    perfect += test.reduce((n, f) => n + f.windows.length, 0) * costs.tpWeight;
  }
  return { pooled: (100 * (raw - nullRaw)) / (perfect - nullRaw), thresholds };
}

const VARIANTS: Record<string, (change: object) => DetectorFactory> = {
  resonance: (change) => resonanceFactory({ ...DEFAULT_RESONANCE, ...change }, 'resonance-explore'),
  'dual-vigilance': (change) => dualVigilanceFactory({ ...DEFAULT_DUAL_VIGILANCE, ...change }, 'dual-vigilance-explore'),
};
let args = process.argv.slice(2);
let detector = 'resonance';
if (args[0] === '--detector') {
  detector = args[1] ?? '';
  args = args.slice(2);
}
const variant = VARIANTS[detector];
if (variant === undefined) throw new Error(`--detector: one of ${Object.keys(VARIANTS).join(', ')}, not "${detector}"`);
for (const arg of args) {
  const t0 = Date.now();
  const results = runDetector({ corpus, factory: variant(JSON.parse(arg) as object), resultsDir: '/tmp/explore' });
  const s = (Date.now() - t0) / 1000;
  const by = scoreDetector(results, corpus.profiles).map((p) => `${p.profile} ${p.score.toFixed(2)} (t ${p.threshold.toFixed(3)})`);
  const held = heldOutScore(results, corpus.profiles.standard!.CostMatrix);
  console.log(`${arg}  ${s.toFixed(1)} s  held-out standard ${held.pooled.toFixed(2)} (t ${held.thresholds.map((t) => t.toFixed(3)).join('/')})  full set: ${by.join('  ')}`);
}
