/**
 * Status shown by shape and word as well as colour (WCAG 1.4.1): a priority, an alarm state, a
 * health band, a claim or attestation state. Colour comes from CSS classes only.
 */
import type { AlarmPriority, AlarmState } from '../api-types.ts';

const PRIORITY_GLYPH: Record<AlarmPriority, string> = { critical: '◆', high: '▲', medium: '■', low: '●' };

export function PriorityBadge({ priority }: { priority: AlarmPriority }) {
  return <span className={`badge priority-${priority}`}><span aria-hidden="true">{PRIORITY_GLYPH[priority]} </span>{priority}</span>;
}

const STATE_LABEL: Record<AlarmState, string> = {
  'unack-active': 'Active, unacknowledged',
  'ack-active': 'Active, acknowledged',
  'unack-rtn': 'Cleared, unacknowledged',
  normal: 'Normal',
};
const STATE_GLYPH: Record<AlarmState, string> = { 'unack-active': '!', 'ack-active': '✓', 'unack-rtn': '↺', normal: '○' };

export function AlarmStateBadge({ state }: { state: AlarmState }) {
  return <span className={`badge alarm-state-${state}`}><span aria-hidden="true">{STATE_GLYPH[state]} </span>{STATE_LABEL[state]}</span>;
}

export type Tone = 'ok' | 'warn' | 'bad' | 'idle';
const TONE_GLYPH: Record<Tone, string> = { ok: '●', warn: '▲', bad: '◆', idle: '○' };

/** A generic status: tone for colour and shape, the label says it in words. */
export function StatusBadge({ tone, label, title }: { tone: Tone; label: string; title?: string }) {
  return <span className={`badge tone-${tone}`} {...(title ? { title } : {})}><span aria-hidden="true">{TONE_GLYPH[tone]} </span>{label}</span>;
}

/** Health 0–100: 80 and up good, 50 and up watch, below 50 poor. */
export function healthTone(health: number | null | undefined): Tone {
  if (health === null || health === undefined) return 'idle';
  return health >= 80 ? 'ok' : health >= 50 ? 'warn' : 'bad';
}

export function HealthBadge({ health }: { health: number | null | undefined }) {
  const label = health === null || health === undefined ? 'health unknown' : `health ${Math.round(health)}`;
  return <StatusBadge tone={healthTone(health)} label={label} />;
}
