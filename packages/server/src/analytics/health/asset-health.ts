/**
 * Asset health index (issue 4): 0 (failing) to 100 (healthy) per asset, from its points' smoothed
 * anomaly scores and its active alarms.
 *
 *   health = clamp(100 − 60 · worstScore − Σ alarmPenalty, 0, 100)
 *
 * worstScore is the highest smoothed anomaly score of the asset's points (in [0, 1]): one point
 * acting funny is enough to worry about the asset. Each active alarm on the asset (shelved and
 * suppressed ones included: the condition is still true of the equipment) costs by priority:
 * critical 40, high 25, medium 15, low 5. The flood summary alarm and retired alarms are ignored.
 * So an asset with one anomalous point and no alarm bottoms out at 40, and alarms take it lower.
 */
import type { Alarm, AlarmFilter } from '../../alarms/alarm.ts';
import type { AlarmPriority } from '../../alarms/alarm-rule.ts';
import type { PointSnapshot } from '../live/live-analytics.ts';

export const ALARM_PENALTY: Readonly<Record<AlarmPriority, number>> = { critical: 40, high: 25, medium: 15, low: 5 };
export const ANOMALY_WEIGHT = 60;

export interface AssetHealth {
  site: string;
  asset: string;
  /** 0-100, higher is healthier. */
  health: number;
  /** The point with the highest smoothed anomaly score, or null if none is scored yet. */
  worstPoint: { point: string; score: number } | null;
  activeAlarms: number;
}

export interface AssetHealthSources {
  points: (site?: string) => PointSnapshot[];
  alarms: (filter: AlarmFilter) => Alarm[];
}

/** Health of every asset seen by live analytics or with an active alarm, worst first. */
export function assetHealth(sources: AssetHealthSources, site?: string): AssetHealth[] {
  const byAsset = new Map<string, AssetHealth & { penalty: number }>();
  const entry = (s: string, a: string) => {
    const key = `${s}\u0000${a}`;
    let e = byAsset.get(key);
    if (!e) byAsset.set(key, e = { site: s, asset: a, health: 100, worstPoint: null, activeAlarms: 0, penalty: 0 });
    return e;
  };
  for (const p of sources.points(site)) {
    const e = entry(p.site, p.asset);
    if (p.scoring && (e.worstPoint === null || p.score > e.worstPoint.score)) e.worstPoint = { point: p.point, score: p.score };
  }
  for (const alarm of sources.alarms(site !== undefined ? { site } : {})) {
    if (!alarm.active || alarm.retired || alarm.kind === 'flood') continue;
    const e = entry(alarm.site, alarm.asset);
    e.activeAlarms++;
    e.penalty += ALARM_PENALTY[alarm.priority];
  }
  const out: AssetHealth[] = [];
  for (const { penalty, ...e } of byAsset.values()) {
    const raw = 100 - ANOMALY_WEIGHT * (e.worstPoint?.score ?? 0) - penalty;
    out.push({ ...e, health: Math.round(Math.min(100, Math.max(0, raw)) * 10) / 10 });
  }
  return out.sort((a, b) => a.health - b.health || a.site.localeCompare(b.site) || a.asset.localeCompare(b.asset));
}
