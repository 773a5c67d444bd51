/**
 * The alarm state machine of ISA-18.2 §11.1 (IEC 62682 §11), in the terms of OPC UA Part 9
 * (ActiveState × AckedState):
 *
 *   normal        ── condition active ──▶ unack-active
 *   unack-active  ── acknowledge       ──▶ ack-active
 *   unack-active  ── condition clears  ──▶ unack-rtn     (returned to normal, not yet acknowledged)
 *   ack-active    ── condition clears  ──▶ normal
 *   unack-rtn     ── acknowledge       ──▶ normal
 *   unack-rtn     ── condition active  ──▶ unack-active
 *
 * Anything else is refused (acknowledging what needs no acknowledgement) or a no-op (a condition
 * that is already active becoming active). Shelving, suppression by design and out of service
 * (ISA-18.2 states E, F, G) sit on top: they stop annunciation, the condition keeps being tracked,
 * and leaving them re-evaluates: a still-active condition comes back as a new unacknowledged alarm,
 * a cleared one as normal.
 */
import { AlarmError } from './alarm-error.ts';

export const ALARM_STATES = ['normal', 'unack-active', 'ack-active', 'unack-rtn'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];
export type ConditionEvent = 'activate' | 'clear' | 'acknowledge';

const TRANSITIONS: Record<AlarmState, Partial<Record<ConditionEvent, AlarmState>>> = {
  normal: { activate: 'unack-active', clear: 'normal' },
  'unack-active': { activate: 'unack-active', acknowledge: 'ack-active', clear: 'unack-rtn' },
  'ack-active': { activate: 'ack-active', clear: 'normal' },
  'unack-rtn': { activate: 'unack-active', acknowledge: 'normal', clear: 'unack-rtn' },
};

/** The state after `event`; throws `alarm_not_unacknowledged` for an acknowledgement that has nothing to acknowledge. */
export function nextAlarmState(state: AlarmState, event: ConditionEvent): AlarmState {
  const next = TRANSITIONS[state][event];
  if (next === undefined) {
    throw new AlarmError('alarm_not_unacknowledged', `the alarm is ${state}: there is nothing to acknowledge`, { state });
  }
  return next;
}

export function alarmStateOf(active: boolean, acknowledged: boolean): AlarmState {
  if (active) return acknowledged ? 'ack-active' : 'unack-active';
  return acknowledged ? 'normal' : 'unack-rtn';
}

export function isActive(state: AlarmState): boolean {
  return state === 'unack-active' || state === 'ack-active';
}

export function isAcknowledged(state: AlarmState): boolean {
  return state === 'normal' || state === 'ack-active';
}

/** ISA-18.2 re-evaluation on leaving shelved / suppressed / out of service. */
export function stateOnReturn(active: boolean): AlarmState {
  return active ? 'unack-active' : 'normal';
}
