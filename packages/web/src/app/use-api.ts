/**
 * Reading one API path into a view: loading, error (with retry) and data, re-read when the path
 * changes, when `reloadOn` live events arrive (debounced, so a burst is one request) and after
 * the stream reconnects (events may have been missed).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, isAbort, messageOf } from './api-client.ts';
import { live } from './live.ts';
import type { LiveEventName } from './live-events.ts';

export type ApiState<T> =
  | { status: 'loading'; data: T | undefined; error: null }
  | { status: 'ready'; data: T; error: null }
  | { status: 'error'; data: T | undefined; error: string };

export interface UseApiResult<T> {
  state: ApiState<T>;
  reload(): void;
  /** Replaces the data without a request (after an action answered with the new state). */
  set(data: T): void;
}

export interface UseApiOptions {
  reloadOn?: readonly LiveEventName[];
  /** Re-read every this many ms as well (for data no event announces). */
  pollMs?: number;
}

const EVENT_DEBOUNCE_MS = 500;

export function useApi<T>(path: string | null, options: UseApiOptions = {}): UseApiResult<T> {
  const [state, setState] = useState<ApiState<T>>({ status: 'loading', data: undefined, error: null });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const dataRef = useRef<T | undefined>(undefined);

  useEffect(() => {
    if (path === null) return undefined;
    const controller = new AbortController();
    // Keep showing what we have while re-reading: a live view must not flash "loading".
    if (dataRef.current === undefined) setState({ status: 'loading', data: undefined, error: null });
    api.get<T>(path, { signal: controller.signal }).then((data) => {
      dataRef.current = data;
      setState({ status: 'ready', data, error: null });
    }, (err: unknown) => {
      if (isAbort(err)) return;
      setState({ status: 'error', data: dataRef.current, error: messageOf(err) });
    });
    return () => controller.abort();
  }, [path, tick]);

  useEffect(() => {
    dataRef.current = undefined;
  }, [path]);

  const events = (options.reloadOn ?? []).join(',');
  useEffect(() => {
    const names = events === '' ? [] : (events.split(',') as LiveEventName[]);
    let timer: ReturnType<typeof setTimeout> | null = null;
    const later = () => { timer ??= setTimeout(() => { timer = null; reload(); }, EVENT_DEBOUNCE_MS); };
    const offs = [...names, 'resync' as const].map((n) => live.on(n, later));
    return () => {
      for (const off of offs) off();
      if (timer) clearTimeout(timer);
    };
  }, [events, reload]);

  useEffect(() => {
    if (!options.pollMs) return undefined;
    const id = setInterval(reload, options.pollMs);
    return () => clearInterval(id);
  }, [options.pollMs, reload]);

  const set = useCallback((data: T) => {
    dataRef.current = data;
    setState({ status: 'ready', data, error: null });
  }, []);

  return { state, reload, set };
}

/** The current time, re-read every `everyMs` (for "3 min ago" labels). */
export function useNow(everyMs = 10_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}
