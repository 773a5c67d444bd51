/**
 * bench/nab: runs a streaming detector over a NAB-layout folder, writes NAB-format results and
 * prints the standard, reward_low_FP_rate and reward_low_FN_rate scores beside NAB's published ones.
 *
 *   node --import tsx bench/nab/run.ts [--data DIR] [--detector NAME] [--out DIR] [--score-only]
 *
 *   --data DIR       NAB-layout folder (data/, labels/combined_windows.json, config/profiles.json);
 *                    default ../shared/datasets/nab beside the repository
 *   --detector NAME  a name from bench/nab/detectors.ts; default ensemble (live analytics' detector)
 *   --out DIR        results root; default bench/nab/results (files under <out>/<detector>/...)
 *   --score-only     do not run: score the results already in <out>/<detector>/ (writing nothing), e.g.
 *                    --out ../shared/datasets/nab/results --detector numenta
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatScoreTable, recordScores, runDetector, type RunProgress } from './benchmark.ts';
import { nabDetectors } from './detectors.ts';
import { loadNabCorpus, readDetectorResults, scoreDetector, NabError, type ScoredFile } from './scorer/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_DATA = path.resolve(ROOT, '../shared/datasets/nab');

function sameFolder(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function showProgress(p: RunProgress): void {
  const line = `[${p.fileIndex + 1}/${p.fileCount}] ${p.file} ${Math.floor((100 * p.row) / Math.max(p.rows, 1))}%`;
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (p.row === p.rows) process.stderr.write(`${line}\n`);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: DEFAULT_DATA },
      detector: { type: 'string', default: 'ensemble' },
      out: { type: 'string', default: path.join(ROOT, 'bench/nab/results') },
      'score-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('node --import tsx bench/nab/run.ts [--data DIR] [--detector NAME] [--out DIR] [--score-only]');
    console.log(`detectors: ${Object.keys(nabDetectors).join(', ')}`);
    return;
  }
  const dataDir = path.resolve(values.data);
  const outDir = path.resolve(values.out);
  const name = values.detector;

  const corpus = loadNabCorpus(dataDir);
  const started = Date.now();
  let results: ScoredFile[];
  if (values['score-only']) {
    results = readDetectorResults(outDir, name, corpus);
  } else {
    const factory = nabDetectors[name];
    if (factory === undefined) {
      throw new NabError('NAB_LAYOUT', `unknown detector "${name}"; known: ${Object.keys(nabDetectors).join(', ')}`, { name });
    }
    console.error(`running ${name} on ${corpus.files.length} files of ${dataDir}`);
    results = runDetector({ corpus, factory, resultsDir: outDir, onProgress: showProgress });
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
  const detectSeconds = (Date.now() - started) / 1000;
  const scored = scoreDetector(results, corpus.profiles);
  // --score-only reads someone else's results folder (maybe the shared data set): leave it untouched.
  if (!values['score-only']) recordScores(outDir, name, scored);

  const rows = corpus.files.reduce((n, f) => n + f.values.length, 0);
  console.log(`\n## NAB: ${name}\n`);
  console.log(
    `${corpus.files.length} files, ${rows} rows of ${dataDir}` +
      (values['score-only'] ? ' (scored existing results)' : `; detection ${detectSeconds.toFixed(1)} s`) +
      `; results in ${path.join(outDir, name)}\n`,
  );
  if (corpus.unlabelled.length > 0) console.log(`not labelled, skipped: ${corpus.unlabelled.join(', ')}\n`);
  console.log(formatScoreTable(name, scored, sameFolder(dataDir, DEFAULT_DATA)));
}

try {
  main();
} catch (err) {
  if (err instanceof NabError) {
    console.error(`bench/nab: ${err.message} [${err.code}]`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
