/** How far from normal, and how long ago, in the words the maintenance sections share. */
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
