/**
 * Every alarm the server knows, kept current by `alarm` live events, shared by the views that
 * show alarms (overview, asset, console), so moving between them needs no refetch. Events are
 * applied in batches (at most every 100 ms): a flood of a thousand alarms is one render, not a
 * thousand.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { api, messageOf } from './api-client.ts';
import type { Alarm } from './api-types.ts';
import { live } from './live.ts';

export interface AlarmSnapshot {
  status: 'idle' | 'loading' | 'ready' | 'error';
  error: string | null;
  /** Bumped whenever any alarm changes: memoise derived lists on it. */
  version: number;
  byId: ReadonlyMap<number, Alarm>;
}

const FLUSH_MS = 100;

const byId = new Map<number, Alarm>();
let snapshot: AlarmSnapshot = { status: 'idle', error: null, version: 0, byId };
const listeners = new Set<() => void>();
let pending = new Map<number, Alarm>();
let flushTimer: ReturnType<typeof setTimeout> | null = null;
let loadSeq = 0;

function publish(changes: Partial<AlarmSnapshot>): void {
  snapshot = { ...snapshot, ...changes, version: snapshot.version + 1, byId };
  for (const l of listeners) l();
}

function apply(alarm: Alarm): void {
  if (alarm.retired) byId.delete(alarm.id);
  else byId.set(alarm.id, alarm);
}

function flush(): void {
  flushTimer = null;
  if (pending.size === 0) return;
  const batch = pending;
  pending = new Map();
  for (const a of batch.values()) apply(a);
  publish({});
}

/** (Re)reads the whole list; events that arrive meanwhile are applied on top. */
export async function loadAlarms(): Promise<void> {
  const seq = ++loadSeq;
  if (snapshot.status !== 'ready') publish({ status: 'loading', error: null });
  try {
    const { alarms } = await api.get<{ alarms: Alarm[] }>('/alarms');
    if (seq !== loadSeq) return;
    byId.clear();
    for (const a of alarms) apply(a);
    for (const a of pending.values()) if (a.changedAt >= (byId.get(a.id)?.changedAt ?? 0)) apply(a);
    pending.clear();
    publish({ status: 'ready', error: null });
  } catch (err) {
    if (seq !== loadSeq) return;
    publish({ status: snapshot.status === 'ready' ? 'ready' : 'error', error: messageOf(err) });
  }
}

/** An alarm as an action answered it (no need to wait for its event). */
export function putAlarm(alarm: Alarm): void {
  apply(alarm);
  publish({});
}

function isAlarm(value: unknown): value is Alarm {
  return typeof value === 'object' && value !== null && typeof (value as Alarm).id === 'number' && typeof (value as Alarm).state === 'string';
}

live.on('alarm', (data) => {
  // The event carries the alarm itself; `{alarm}` (the REST shape) is accepted too.
  const alarm = isAlarm(data) ? data : isAlarm((data as { alarm?: unknown } | null)?.alarm) ? (data as { alarm: Alarm }).alarm : null;
  if (!alarm || snapshot.status === 'idle') return;
  pending.set(alarm.id, alarm);
  flushTimer ??= setTimeout(flush, FLUSH_MS);
});

live.on('resync', () => {
  if (snapshot.status !== 'idle') void loadAlarms();
});

/** Forgets everything (sign-out), so the next user does not see the previous user's list. */
export function resetAlarms(): void {
  loadSeq++;
  byId.clear();
  pending.clear();
  snapshot = { status: 'idle', error: null, version: snapshot.version + 1, byId };
  for (const l of listeners) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => { listeners.delete(listener); };
}

/** All alarms, loading them on first use. */
export function useAlarms(): AlarmSnapshot {
  const snap = useSyncExternalStore(subscribe, () => snapshot);
  useEffect(() => {
    if (snapshot.status === 'idle' || snapshot.status === 'error') void loadAlarms();
  }, []);
  return snap;
}
