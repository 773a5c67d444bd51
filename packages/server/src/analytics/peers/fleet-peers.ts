/**
 * Fleet peers (issue 4): assets of the same equipment profile, across every site, compared point
 * by point. Each asset's recent level of a point (mean of its last hour of minute means) is set
 * against its peers' median; the spread is the MAD, so one broken asset does not hide itself by
 * inflating the spread. Robust z = 0.6745 · (x − median) / MAD (Iglewicz & Hoaglin), |z| > 3.5
 * being their usual outlier cut.
 */
import { HOUR_MS, type PointSnapshot } from '../live/live-analytics.ts';

export interface PeerPoint {
  point: string;
  value: number;
  median: number;
  mad: number;
  /** Robust z-score against the peers (signed). */
  z: number;
  peers: number;
}

export interface PeerOutlier {
  site: string;
  asset: string;
  /** Largest |z| of the asset's points. */
  score: number;
  /** The asset's compared points, largest |z| first. */
  points: PeerPoint[];
}

export interface FleetPeersSources {
  points: () => PointSnapshot[];
  recentMean: (site: string, asset: string, point: string, windowMs?: number) => number | undefined;
  profileOf: (site: string, asset: string) => string | undefined;
}

/** Points compared need at least this many assets reporting them. */
export const MIN_PEERS = 3;

function median(sorted: readonly number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** Assets of `profile` ranked by how far they are from their peers, most unusual first. */
export function rankPeers(sources: FleetPeersSources, profile: string, windowMs = HOUR_MS): PeerOutlier[] {
  const profiles = new Map<string, string | undefined>();
  /** point → values of each asset reporting it */
  const byPoint = new Map<string, { site: string; asset: string; value: number }[]>();
  for (const p of sources.points()) {
    const assetKey = `${p.site}\u0000${p.asset}`;
    if (!profiles.has(assetKey)) profiles.set(assetKey, sources.profileOf(p.site, p.asset));
    if (profiles.get(assetKey) !== profile) continue;
    const value = sources.recentMean(p.site, p.asset, p.point, windowMs);
    if (value === undefined) continue;
    let list = byPoint.get(p.point);
    if (!list) byPoint.set(p.point, list = []);
    list.push({ site: p.site, asset: p.asset, value });
  }
  const outliers = new Map<string, PeerOutlier>();
  for (const [point, list] of byPoint) {
    if (list.length < MIN_PEERS) continue;
    const values = list.map((v) => v.value).sort((a, b) => a - b);
    const med = median(values);
    const deviations = values.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
    // A MAD of 0 (most peers identical) would make every difference infinite: floor it.
    const mad = Math.max(median(deviations), Math.abs(med) * 1e-3, 1e-9);
    for (const v of list) {
      const z = (0.6745 * (v.value - med)) / mad;
      const key = `${v.site}\u0000${v.asset}`;
      let o = outliers.get(key);
      if (!o) outliers.set(key, o = { site: v.site, asset: v.asset, score: 0, points: [] });
      o.points.push({ point, value: v.value, median: med, mad, z, peers: list.length });
      o.score = Math.max(o.score, Math.abs(z));
    }
  }
  const out = [...outliers.values()];
  for (const o of out) o.points.sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
  return out.sort((a, b) => b.score - a.score || a.site.localeCompare(b.site) || a.asset.localeCompare(b.asset));
}
