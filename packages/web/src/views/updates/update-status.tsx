/**
 * Words, tones and small formats of signed updates: a deployment's state, a device's update
 * state, byte sizes, hash prefixes. Status is a badge (shape, word and colour), never colour alone.
 */
import type { DeploymentState, UpdateState, UpdateStateCounts } from '../../app/api-types.ts';
import { StatusBadge, type Tone } from '../../app/components/badges.tsx';

const DEPLOYMENT_STATE: Record<DeploymentState, { label: string; tone: Tone }> = {
  running: { label: 'Running', tone: 'warn' },
  paused: { label: 'Paused', tone: 'idle' },
  halted: { label: 'Halted', tone: 'bad' },
  aborted: { label: 'Aborted', tone: 'bad' },
  completed: { label: 'Completed', tone: 'ok' },
};

export function DeploymentStateBadge({ state }: { state: DeploymentState }) {
  const s = DEPLOYMENT_STATE[state] ?? { label: state, tone: 'idle' as const };
  return <span data-testid="deployment-state" data-state={state}><StatusBadge tone={s.tone} label={s.label} /></span>;
}

export const UPDATE_STATE_LABEL: Record<UpdateState, string> = {
  pending: 'pending', deferred: 'deferred', downloading: 'downloading', downloaded: 'downloaded', installed: 'installed: proving health',
  healthy: 'healthy', failed: 'failed', rolled_back: 'rolled back', refused: 'refused',
};
const UPDATE_STATE_TONE: Record<UpdateState, Tone> = {
  pending: 'idle', deferred: 'idle', downloading: 'warn', downloaded: 'warn', installed: 'warn', healthy: 'ok', failed: 'bad', rolled_back: 'bad', refused: 'bad',
};

export function UpdateStateBadge({ state }: { state: UpdateState }) {
  return <StatusBadge tone={UPDATE_STATE_TONE[state] ?? 'idle'} label={UPDATE_STATE_LABEL[state] ?? state} />;
}

/** Failed, rolled back or refused: the device's part ended without the release. */
export const FAILED_STATES: readonly UpdateState[] = ['failed', 'rolled_back', 'refused'];
/** Told to update and on its way: downloading, downloaded, installed (proving health). */
export const IN_PROGRESS_STATES: readonly UpdateState[] = ['downloading', 'downloaded', 'installed'];
/** Not started: pending, or held back by an engineer. */
export const WAITING_STATES: readonly UpdateState[] = ['pending', 'deferred'];

export interface Split {
  healthy: number;
  inProgress: number;
  failed: number;
  waiting: number;
}

export function splitStates(states: Partial<UpdateStateCounts>): Split {
  const sum = (list: readonly UpdateState[]) => list.reduce((n, s) => n + (states[s] ?? 0), 0);
  return { healthy: states.healthy ?? 0, inProgress: sum(IN_PROGRESS_STATES), failed: sum(FAILED_STATES), waiting: sum(WAITING_STATES) };
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** The first 12 hex digits of a digest (the whole one in the title). */
export function Hash({ value, testId }: { value: string; testId?: string }) {
  const hex = value.startsWith('sha256:') ? value.slice(7) : value;
  return <code title={value} {...(testId ? { 'data-testid': testId } : {})}>{hex.slice(0, 12)}…</code>;
}

export function formatPercentValue(p: number): string {
  if (!Number.isFinite(p)) return '—';
  return `${Number.isInteger(p) ? p : p.toFixed(1)} %`;
}
