/**
 * Private evaluation script: `node --import tsx packages/server/test/analytics/nab/score-nab.ts <detector|stored:name>`
 */
import { loadNab, loadStoredScores, runDetector, scoreCorpus } from './private-scorer.ts';
import { detectorFactories } from '../../../src/analytics/detectors/catalog.ts';

const root = process.env.NAB_ROOT ?? '/work/shared/datasets/nab';
const files = loadNab(root);
const which = process.argv[2] ?? 'shellguard';
const started = Date.now();
let scores: number[][];
if (which.startsWith('stored:')) scores = loadStoredScores(root, which.slice(7), files);
else {
  const factory = detectorFactories[which];
  if (!factory) throw new Error(`unknown detector ${which}`);
  scores = runDetector(factory, files);
}
const result = scoreCorpus(files, scores);
console.log(which, `${((Date.now() - started) / 1000).toFixed(1)}s`, JSON.stringify(result));
