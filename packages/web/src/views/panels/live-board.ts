/**
 * The panel board kept current: the `panels` live event carries the whole board (the body of
 * GET /panels), so it replaces what is shown without a request. Until the server sends those
 * events — and whenever the stream is down — the board is also re-read every 2 s while the page is
 * visible (a cheap GET of in-memory state), so the towers move either way.
 */
import { useSyncExternalStore } from 'react';
import type { PanelBoard } from '../../app/api-types.ts';
import { useLiveEvent } from '../../app/live.ts';
import { useApi, type UseApiResult } from '../../app/use-api.ts';

/** How often a visible DMOP view re-reads while no live event told it about a change. */
export const DMOP_POLL_MS = 2_000;

function subscribeVisibility(listener: () => void): () => void {
  document.addEventListener('visibilitychange', listener);
  return () => document.removeEventListener('visibilitychange', listener);
}

/** Whether the page is visible (a background tab does not poll). */
export function usePageVisible(): boolean {
  return useSyncExternalStore(subscribeVisibility, () => document.visibilityState !== 'hidden');
}

/** Poll interval for useApi: DMOP_POLL_MS while visible, none in a background tab. */
export function useVisiblePoll(): number | undefined {
  return usePageVisible() ? DMOP_POLL_MS : undefined;
}

function isBoard(data: unknown): data is PanelBoard {
  return typeof data === 'object' && data !== null && Array.isArray((data as PanelBoard).panels) && Array.isArray((data as PanelBoard).stops);
}

/** Every panel of every site (filtered by the views, so one live event serves them all). */
export function usePanelBoard(): UseApiResult<PanelBoard> {
  const board = useApi<PanelBoard>('/panels', { pollMs: useVisiblePoll() });
  useLiveEvent<unknown>('panels', (data) => { if (isBoard(data)) board.set(data); });
  return board;
}
