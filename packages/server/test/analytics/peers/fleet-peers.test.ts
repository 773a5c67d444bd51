import { describe, expect, it } from 'vitest';
import { rankPeers } from '../../../src/analytics/peers/fleet-peers.ts';
import type { PointSnapshot } from '../../../src/analytics/live/live-analytics.ts';

const levels: Record<string, Record<string, number>> = {
  'dc1/P1': { vib: 2.0, temp: 40 }, 'dc1/P2': { vib: 2.1, temp: 41 }, 'dc2/P3': { vib: 1.9, temp: 40.5 },
  'dc2/P4': { vib: 3.4, temp: 40.2 }, 'dc3/P5': { vib: 2.05, temp: 39.8 }, 'dc3/AHU': { vib: 9, temp: 9 },
};
const points: PointSnapshot[] = Object.entries(levels).flatMap(([key, pts]) => Object.keys(pts).map((point) => {
  const [site, asset] = key.split('/') as [string, string];
  return { site, asset, point, score: 0, scoring: true, baselineLearned: true, lastMinuteTs: 0, baselineMean: 0, baselineStd: 1 };
}));

describe('rankPeers', () => {
  it('ranks the odd asset of a profile first, across sites, with its distance from the peers', () => {
    const ranked = rankPeers({
      points: () => points,
      recentMean: (site, asset, point) => levels[`${site}/${asset}`]![point],
      profileOf: (_site, asset) => (asset === 'AHU' ? 'ahu' : 'pump'),
    }, 'pump');
    expect(ranked).toHaveLength(5);
    expect(ranked[0]).toMatchObject({ site: 'dc2', asset: 'P4' });
    expect(ranked[0]!.points[0]).toMatchObject({ point: 'vib', value: 3.4, median: 2.05, peers: 5 });
    expect(ranked[0]!.score).toBeGreaterThan(3.5);
    expect(ranked[1]!.score).toBeLessThan(3.5);
  });
});
