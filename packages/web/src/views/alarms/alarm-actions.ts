/**
 * The operator's actions on an alarm (ISA-18.2 §10.5: acknowledge, shelve, unshelve; §11: out of
 * service), as the server offers them (POST /alarms/:id/<endpoint>, alarm-routes.ts): when each
 * applies, who may take it, what it asks for, and the request body.
 */
import type { Alarm } from '../../app/api-types.ts';
import { formatDuration } from '../../app/format.ts';
import type { Capability } from '../../app/permissions.ts';

export const ALARM_ACTIONS = ['acknowledge', 'shelve', 'unshelve', 'remove-from-service', 'return-to-service'] as const;
export type AlarmAction = (typeof ALARM_ACTIONS)[number];

export interface AlarmActionSpec {
  label: string;
  capability: Capability;
  /** The last path segment of POST /alarms/:id/<endpoint>. */
  endpoint: string;
  comment: { label: string; required: boolean };
  danger?: boolean;
  /** Whether the action means anything in the alarm's present state (the server answers 409 otherwise). */
  applies(alarm: Alarm): boolean;
}

export const ACTION_SPECS: Record<AlarmAction, AlarmActionSpec> = {
  acknowledge: {
    label: 'Acknowledge', capability: 'alarm.acknowledge', endpoint: 'ack',
    comment: { label: 'Comment', required: false },
    applies: (a) => !a.acknowledged,
  },
  shelve: {
    label: 'Shelve', capability: 'alarm.shelve', endpoint: 'shelve',
    // Shelving hides an alarm from operators: the reason must be on record (ISA-18.2 §10.5.2).
    comment: { label: 'Why it is shelved', required: true },
    applies: (a) => a.shelved === null && a.outOfService === null,
  },
  unshelve: {
    label: 'Unshelve', capability: 'alarm.unshelve', endpoint: 'unshelve',
    comment: { label: 'Comment', required: false },
    applies: (a) => a.shelved !== null,
  },
  'remove-from-service': {
    label: 'Remove from service', capability: 'alarm.remove-from-service', endpoint: 'remove-from-service',
    comment: { label: 'Why it is taken out of service', required: true }, danger: true,
    applies: (a) => a.outOfService === null,
  },
  'return-to-service': {
    label: 'Return to service', capability: 'alarm.return-to-service', endpoint: 'return-to-service',
    comment: { label: 'Comment', required: true },
    applies: (a) => a.outOfService !== null,
  },
};

export function actionPath(alarmId: number, action: AlarmAction): string {
  return `/alarms/${alarmId}/${ACTION_SPECS[action].endpoint}`;
}

export type ShelveKind = 'timed' | 'one-shot';

export interface ShelveChoice {
  kind: ShelveKind;
  /** Timed shelving only. */
  durationMs: number;
}

/** ShelveBody / CommentBody of alarm-schemas.ts. */
export function actionBody(action: AlarmAction, comment: string, shelve: ShelveChoice): Record<string, unknown> {
  const note = comment === '' ? {} : { comment };
  if (action !== 'shelve') return note;
  return shelve.kind === 'timed' ? { kind: 'timed', durationMs: shelve.durationMs, ...note } : { kind: 'one-shot', ...note };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SHELVE_DURATIONS = [15 * MINUTE, HOUR, 4 * HOUR, 8 * HOUR, 24 * HOUR];

/**
 * Durations to offer, never beyond the rule's maxShelveMs when it is known (the server refuses
 * longer ones with `shelve_too_long`), and the maximum itself as the last choice.
 */
export function shelveDurations(maxShelveMs: number | null): number[] {
  if (maxShelveMs === null || !Number.isFinite(maxShelveMs) || maxShelveMs <= 0) return SHELVE_DURATIONS;
  const fit = SHELVE_DURATIONS.filter((d) => d < maxShelveMs);
  return [...fit, Math.floor(maxShelveMs)];
}

/** "15 min", "1 h", "8 h": whole hours read as hours. */
export function shelveDurationLabel(ms: number): string {
  return ms >= HOUR && ms % HOUR === 0 ? `${ms / HOUR} h` : formatDuration(ms);
}

export function defaultShelveDuration(choices: readonly number[]): number {
  return choices.includes(HOUR) ? HOUR : choices.at(-1)!;
}
