/**
 * Which devices go in which wave. The order is a hash of (deployment, device), so it is stable
 * (the same deployment always picks the same canaries, across restarts) and differs between
 * deployments (the same devices are not always the first to take a risk).
 */
import { createHash } from 'node:crypto';

export interface WavePlan {
  /** deviceId → 1-based wave. */
  waves: Map<string, number>;
  /** Waves that received devices (fewer than the policy's when the group is smaller than them). */
  waveCount: number;
}

function rank(deploymentId: string, deviceId: string): string {
  return createHash('sha256').update(`${deploymentId}\n${deviceId}`).digest('hex');
}

/**
 * Cumulative wave sizes: wave i reaches ceil(n × pct_i / 100) devices, and at least one more
 * than the wave before it, so every wave holds a device while there are devices left.
 */
export function waveSizes(n: number, cumulativePercent: readonly number[]): number[] {
  const sizes: number[] = [];
  let reached = 0;
  for (const pct of cumulativePercent) {
    if (reached >= n) break;
    const upTo = Math.min(n, Math.max(Math.ceil((n * pct) / 100), reached + 1));
    sizes.push(upTo - reached);
    reached = upTo;
  }
  return sizes;
}

export function planWaves(deploymentId: string, deviceIds: readonly string[], cumulativePercent: readonly number[]): WavePlan {
  const ordered = [...new Set(deviceIds)].map((id) => ({ id, key: rank(deploymentId, id) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const sizes = waveSizes(ordered.length, cumulativePercent);
  const waves = new Map<string, number>();
  let i = 0;
  sizes.forEach((size, w) => {
    for (let k = 0; k < size; k++) waves.set(ordered[i++]!.id, w + 1);
  });
  return { waves, waveCount: sizes.length };
}
