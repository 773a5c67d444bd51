/** How far from normal, and how long ago, in the words the maintenance sections share. */
import type { PointMove } from '../../app/api-types.ts';
import { formatAgo } from '../../app/format.ts';

/** A signed z-score: "+4.2 σ", "−1.0 σ". */
export function formatZ(z: number): string {
  if (!Number.isFinite(z)) return String(z);
  return `${z < 0 ? '−' : '+'}${Math.abs(z).toFixed(1)} σ`;
}

/**
 * "3 min ago" for something that has happened: the page's clock ticks every 10 s, so a time the
 * server stamped since the last tick would otherwise read "in 4 s".
 */
export function formatPast(ms: number, now: number): string {
  return formatAgo(ms, Math.max(now, ms));
}

/** The moves an asset-level recommendation lists first: the largest shares that make up 90 % of it, at most `max`, at least one. */
export function leadingMoves(moves: readonly PointMove[], max = 6): PointMove[] {
  const sorted = [...moves].sort((a, b) => b.share - a.share);
  const out: PointMove[] = [];
  let covered = 0;
  for (const m of sorted) {
    if (out.length >= max || (out.length > 0 && covered >= 0.9)) break;
    out.push(m);
    covered += m.share;
  }
  return out;
}

/** "12.0 – 24.0": the normal range of a point, its learned mean ± 3 standard deviations. */
export function normalRange(m: Pick<PointMove, 'normalMean' | 'normalStd'>): { low: number; high: number } {
  return { low: m.normalMean - 3 * m.normalStd, high: m.normalMean + 3 * m.normalStd };
}
