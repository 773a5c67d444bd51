import { describe, expect, it } from 'vitest';
import { assetHealth } from '../../../src/analytics/health/asset-health.ts';
import type { Alarm } from '../../../src/alarms/alarm.ts';
import type { PointSnapshot } from '../../../src/analytics/live/live-analytics.ts';

const pt = (asset: string, point: string, score: number): PointSnapshot =>
  ({ site: 'dc1', asset, point, score, scoring: true, baselineLearned: true, lastMinuteTs: 0, baselineMean: 1, baselineStd: 0.1 });
const alarm = (asset: string, priority: Alarm['priority'], active = true): Alarm =>
  ({ site: 'dc1', asset, point: 'p', priority, active, retired: false, kind: 'limit' } as Alarm);

describe('assetHealth', () => {
  it('orders assets worst first from anomaly scores and active alarms', () => {
    const health = assetHealth({
      points: () => [pt('A', 'x', 0), pt('B', 'x', 0.5), pt('B', 'y', 0.1), pt('C', 'x', 0.2)],
      alarms: () => [alarm('C', 'critical'), alarm('A', 'high', false), alarm('D', 'low')],
    });
    expect(health.map((h) => [h.asset, h.health])).toEqual([['C', 48], ['B', 70], ['D', 95], ['A', 100]]);
    expect(health[1]!.worstPoint).toEqual({ point: 'x', score: 0.5 });
    expect(health[0]!.activeAlarms).toBe(1);
  });
});
