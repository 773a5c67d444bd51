/** Batches, series and a settable clock for the telemetry store tests. */
import { Quality, type Sample } from '@shellguard/protocol';
import type { IncomingBatch } from '../../src/telemetry/telemetry-store.ts';

export const T0 = 1_750_000_000_000;
export const DAY = 86_400_000;

export function batch(seq: number, samples: Sample[], opts: { deviceId?: string; asset?: string; epoch?: string; site?: string } = {}): IncomingBatch {
  return { deviceId: opts.deviceId ?? 'dev-1', site: opts.site ?? 'site-a', asset: opts.asset ?? 'AHU-1', epoch: opts.epoch ?? 'e1', seq, samples };
}

export function series(point: string, from: number, count: number, step = 1000, value = (i: number): number | null => i): Sample[] {
  return Array.from({ length: count }, (_, i) => ({ point, ts: from + i * step, value: value(i), quality: Quality.good }));
}

export interface Clock {
  now: () => number;
  set(ms: number): void;
}

export function clock(start = T0): Clock {
  let t = start;
  return { now: () => t, set: (ms) => { t = ms; } };
}
