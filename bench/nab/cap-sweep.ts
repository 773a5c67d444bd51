/**
 * bench/nab/cap-sweep: a contextual detector (`shellguard`: CAD + Gaussian, or `ensemble`: shellguard
 * beside the two resonance members, whose shellguard member is capped) on the NAB files with its context memory
 * capped lower and lower. Bounded memory per point is what issue 14 asks for;
 * this measures what the cap costs in NAB score (and detection time), beside the default cap.
 *
 *   node --import tsx bench/nab/cap-sweep.ts [--caps 20000,2000,1000,500,300] [--detector shellguard|ensemble] [--data DIR]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DetectorFactory } from '@shellguard/server';
import { DEFAULT_ENSEMBLE, DEFAULT_SHELLGUARD, ensembleFactory, shellguardFactory } from '@shellguard/server/testing';
import { runDetector } from './benchmark.ts';
import { loadNabCorpus, scoreDetector } from './scorer/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: {
  caps: { type: 'string', default: '20000,2000,1000,500,300' }, detector: { type: 'string', default: 'shellguard' }, data: { type: 'string', default: path.resolve(ROOT, '../shared/datasets/nab') },
} });
const corpus = loadNabCorpus(path.resolve(values.data));
if (values.detector !== 'shellguard' && values.detector !== 'ensemble') throw new Error(`--detector: shellguard or ensemble, not ${values.detector}`);
console.log(`bench/nab/cap-sweep: ${values.detector} on ${corpus.files.length} files; default cap ${(values.detector === 'ensemble' ? DEFAULT_ENSEMBLE.shellguard : DEFAULT_SHELLGUARD).cad.maxContexts}`);
console.log('max contexts  detection s  standard  reward_low_FP_rate  reward_low_FN_rate');
for (const cap of values.caps.split(',').map(Number)) {
  const shellguard = { ...DEFAULT_SHELLGUARD, cad: { ...DEFAULT_SHELLGUARD.cad, maxContexts: cap } };
  const factory: DetectorFactory = values.detector === 'ensemble'
    ? ensembleFactory({ ...DEFAULT_ENSEMBLE, shellguard }) : shellguardFactory(shellguard);
  const t0 = Date.now();
  const results = runDetector({ corpus, factory: { name: `${values.detector}-cap-${cap}`, create: factory.create }, resultsDir: path.join(ROOT, 'bench/nab/results/cap-sweep') });
  const seconds = (Date.now() - t0) / 1000;
  const by = new Map(scoreDetector(results, corpus.profiles).map((p) => [p.profile, p.score]));
  console.log(`${String(cap).padStart(12)}  ${seconds.toFixed(1).padStart(11)}  ${by.get('standard')!.toFixed(2).padStart(8)}  ${by.get('reward_low_FP_rate')!.toFixed(2).padStart(18)}  ${by.get('reward_low_FN_rate')!.toFixed(2).padStart(18)}`);
}
