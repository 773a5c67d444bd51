/**
 * Latest values of points, fed by `latest` live events and seeded from API answers. Each value
 * cell subscribes to its own point, so an update re-renders that one cell, not the table.
 */
import { useSyncExternalStore } from 'react';
import type { LatestValue } from './api-types.ts';
import { live } from './live.ts';

const values = new Map<number, LatestValue>();
const listeners = new Map<number, Set<() => void>>();

function notify(id: number): void {
  for (const l of listeners.get(id) ?? []) l();
}

/** Records a value unless a newer one is known already (events and fetches race). */
export function putLatest(id: number, value: LatestValue | null): void {
  if (!value) return;
  const known = values.get(id);
  if (known && known.ts >= value.ts) return;
  values.set(id, value);
  notify(id);
}

export function getLatest(id: number): LatestValue | undefined {
  return values.get(id);
}

function subscribe(id: number, listener: () => void): () => void {
  let set = listeners.get(id);
  if (!set) listeners.set(id, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) listeners.delete(id);
  };
}

export function useLatestValue(id: number): LatestValue | undefined {
  return useSyncExternalStore((l) => subscribe(id, l), () => values.get(id));
}

/** Also tells `onValue` listeners (charts appending samples) about every update. */
const valueListeners = new Set<(id: number, value: LatestValue) => void>();
export function onLatestValue(listener: (id: number, value: LatestValue) => void): () => void {
  valueListeners.add(listener);
  return () => { valueListeners.delete(listener); };
}

interface LatestEvent {
  points?: { id: number; ts: number; value: number | null; quality: number }[];
}

live.on('latest', (data) => {
  const points = (data as LatestEvent | null)?.points;
  if (!Array.isArray(points)) return;
  for (const p of points) {
    if (typeof p.id !== 'number') continue;
    const value = { ts: p.ts, value: p.value, quality: p.quality };
    const known = values.get(p.id);
    if (known && known.ts >= value.ts) continue;
    values.set(p.id, value);
    notify(p.id);
    for (const l of valueListeners) l(p.id, value);
  }
});
