/**
 * bench/nab/explore: NAB scores of a detector's configuration variants, side by side (for choosing
 * a configuration; the cross-validated choice is bench/nab/cross-validate.ts).
 *
 *   node --import tsx bench/nab/explore.ts '{"vigilance":0.85}' '{"vigilance":0.9}' …
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RESONANCE, resonanceFactory } from '@shellguard/server/testing';
import { runDetector } from './benchmark.ts';
import { loadNabCorpus, scoreDetector } from './scorer/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = loadNabCorpus(path.resolve(ROOT, '../shared/datasets/nab'));
for (const arg of process.argv.slice(2)) {
  const config = { ...DEFAULT_RESONANCE, ...(JSON.parse(arg) as object) };
  const t0 = Date.now();
  const results = runDetector({ corpus, factory: resonanceFactory(config, 'resonance-explore'), resultsDir: '/tmp/explore' });
  const s = (Date.now() - t0) / 1000;
  const by = scoreDetector(results, corpus.profiles).map((p) => `${p.profile} ${p.score.toFixed(2)} (t ${p.threshold.toFixed(3)})`);
  console.log(`${arg}  ${s.toFixed(1)} s  ${by.join('  ')}`);
}
