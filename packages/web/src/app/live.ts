/**
 * The app's live stream and React hooks over it. The stream starts when someone signs in and
 * stops when they sign out (app.tsx); views only subscribe.
 */
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { api } from './api-client.ts';
import { LiveEvents, type LiveEventName, type LiveStatusSnapshot } from './live-events.ts';

export const live = new LiveEvents({
  // A stream that fails may mean the session ended: a GET /session answers 401 then, and the
  // auth context shows the sign-in page. Otherwise the client just keeps retrying.
  onConnectionLost: () => { void api.get('/session').catch(() => undefined); },
});

export function useLiveStatus(): LiveStatusSnapshot {
  return useSyncExternalStore((l) => live.onStatus(l), () => live.status());
}

/** Calls `handler` for each event of `name`; the latest handler is used without resubscribing. */
export function useLiveEvent<T = unknown>(name: LiveEventName, handler: (data: T) => void): void {
  const ref = useRef(handler);
  useEffect(() => { ref.current = handler; });
  useEffect(() => live.on(name, (data) => ref.current(data as T)), [name]);
}

/** Asks the stream for `latest` events of these points while the component is mounted. */
export function useWatchedPoints(ids: readonly number[]): void {
  const key = ids.join(',');
  useEffect(() => {
    if (key === '') return undefined;
    return live.watchPoints(key.split(',').map(Number));
  }, [key]);
}
