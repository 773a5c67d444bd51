/**
 * A quick private NAB scorer used only to evaluate detectors while `bench/nab` is being written.
 * Follows numenta/NAB's sweeper: scaled sigmoid per row, probationary rows ignored, one threshold
 * swept over the whole corpus per profile, normalised between the null and perfect detectors.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DetectorFactory } from '../../../src/analytics/detectors/detector.ts';

export interface NabFile {
  relativePath: string;
  timestamps: number[];
  values: number[];
  /** [startIndex, endIndex] inclusive */
  windows: Array<[number, number]>;
}

export interface CostMatrix {
  tpWeight: number;
  fnWeight: number;
  fpWeight: number;
}

export const PROFILES: Record<string, CostMatrix> = {
  standard: { tpWeight: 1, fnWeight: 1, fpWeight: 0.11 },
  reward_low_FP_rate: { tpWeight: 1, fnWeight: 1, fpWeight: 0.22 },
  reward_low_FN_rate: { tpWeight: 1, fnWeight: 2, fpWeight: 0.11 },
};

const parseTs = (s: string): number => Date.parse(s.trim().replace(' ', 'T') + 'Z');

export function loadNab(root: string): NabFile[] {
  const windowsJson = JSON.parse(readFileSync(join(root, 'labels/combined_windows.json'), 'utf8')) as Record<
    string,
    Array<[string, string]>
  >;
  const files: NabFile[] = [];
  for (const category of readdirSync(join(root, 'data')).sort()) {
    for (const name of readdirSync(join(root, 'data', category)).sort()) {
      if (!name.endsWith('.csv')) continue;
      const relativePath = `${category}/${name}`;
      const lines = readFileSync(join(root, 'data', relativePath), 'utf8').trim().split('\n').slice(1);
      const timestamps: number[] = [];
      const values: number[] = [];
      for (const line of lines) {
        const [ts, v] = line.split(',');
        timestamps.push(parseTs(ts!));
        values.push(Number(v));
      }
      const windows: Array<[number, number]> = (windowsJson[relativePath] ?? []).map(([a, b]) => {
        const s = parseTs(a.slice(0, 19));
        const e = parseTs(b.slice(0, 19));
        const si = timestamps.findIndex((t) => t >= s);
        let ei = -1;
        for (let i = timestamps.length - 1; i >= 0; i--) if (timestamps[i]! <= e) { ei = i; break; }
        return [si, ei];
      });
      files.push({ relativePath, timestamps, values, windows });
    }
  }
  return files;
}

export const probationPeriod = (rows: number): number => Math.min(Math.floor(0.15 * rows), 0.15 * 5000);

function scaledSigmoid(x: number): number {
  if (x > 3) return -1;
  return 2 / (1 + Math.exp(5 * x)) - 1;
}

interface Row { score: number; weighted: number; window: number }  // window -1 = outside

function sweepRows(file: NabFile, scores: number[], cost: CostMatrix, windowBase: number): Row[] {
  const n = scores.length;
  const probation = probationPeriod(n);
  const maxTP = scaledSigmoid(-1);
  const rows: Row[] = [];
  let w = 0;
  let cur: [number, number] | null = null;
  let curId = -1;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i++) {
    const next = file.windows[w];
    if (next && i === next[0]) { cur = next; curId = windowBase + w; w++; }
    let weighted: number;
    if (cur) {
      const width = cur[1] - cur[0] + 1;
      const pos = -(cur[1] - i + 1) / width;
      weighted = (scaledSigmoid(pos) * cost.tpWeight) / maxTP;
    } else if (prevRight < 0) {
      weighted = -1 * cost.fpWeight;
    } else {
      weighted = scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1)) * cost.fpWeight;
    }
    if (i >= probation) rows.push({ score: scores[i]!, weighted, window: cur ? curId : -1 });
    if (cur && i === cur[1]) { prevRight = i; prevWidth = cur[1] - cur[0] + 1; cur = null; }
  }
  return rows;
}

/** Best [threshold, score] over all rows (higher score wins, as NAB's optimizer). */
function sweep(rows: Row[], cost: CostMatrix): Array<{ threshold: number; score: number }> {
  const sorted = [...rows].sort((a, b) => b.score - a.score);
  const windowIds = new Set(rows.filter((r) => r.window >= 0).map((r) => r.window));
  const best = new Map<number, number>();
  let fp = 0;
  let tpSum = 0;
  const total = () => fp + tpSum - cost.fnWeight * (windowIds.size - best.size);
  const out: Array<{ threshold: number; score: number }> = [];
  let threshold = 1.1;
  for (const r of sorted) {
    if (r.score !== threshold) { out.push({ threshold, score: total() }); threshold = r.score; }
    if (r.window >= 0) {
      const prev = best.get(r.window);
      if (prev === undefined) { best.set(r.window, r.weighted); tpSum += r.weighted; }
      else if (r.weighted > prev) { best.set(r.window, r.weighted); tpSum += r.weighted - prev; }
    } else fp += r.weighted;
  }
  out.push({ threshold, score: total() });
  return out;
}

export function scoreCorpus(files: NabFile[], scores: number[][]): Record<string, { score: number; threshold: number }> {
  const result: Record<string, { score: number; threshold: number }> = {};
  for (const [profile, cost] of Object.entries(PROFILES)) {
    const all: Row[] = [];
    let base = 0;
    let numWindows = 0;
    files.forEach((f, k) => {
      const rows = sweepRows(f, scores[k]!, cost, base);
      numWindows += new Set(rows.filter((r) => r.window >= 0).map((r) => r.window)).size;
      base += f.windows.length;
      for (const r of rows) all.push(r);
    });
    const curve = sweep(all, cost);
    let bestPt = curve[0]!;
    for (const c of curve) if (c.score > bestPt.score) bestPt = c;
    const nullScore = -cost.fnWeight * numWindows;
    const perfect = cost.tpWeight * numWindows;
    result[profile] = { score: (100 * (bestPt.score - nullScore)) / (perfect - nullScore), threshold: bestPt.threshold };
  }
  return result;
}

export function runDetector(factory: DetectorFactory, files: NabFile[]): number[][] {
  return files.map((f) => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of f.values) { if (v < min) min = v; if (v > max) max = v; }
    const det = factory.create({ inputMin: min, inputMax: max, probationaryPeriod: probationPeriod(f.values.length) });
    return f.values.map((value, i) => det.update({ ts: f.timestamps[i]!, value }));
  });
}

/** Reads NAB's own stored results (results/<detector>/<category>/<detector>_<file>.csv). */
export function loadStoredScores(root: string, detector: string, files: NabFile[]): number[][] {
  return files.map((f) => {
    const [category, name] = f.relativePath.split('/');
    const text = readFileSync(join(root, 'results', detector, category!, `${detector}_${name}`), 'utf8');
    return text.trim().split('\n').slice(1).map((l) => Number(l.split(',')[2]));
  });
}
