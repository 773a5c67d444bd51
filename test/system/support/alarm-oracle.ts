/**
 * What the alarm engine should have done, worked out in the test from the stored samples alone:
 * the oracle for "alarms raised exactly once". It follows the engine's documented rule semantics
 * (alarm-rule.ts LimitRule, ISA-18.2 §10.4.2 without on/off-delay): a high level activates at
 * `value >= limit` and clears once the value is below `limit - deadband`; only good-quality
 * samples with a value count; samples are taken in time order.
 */
import { Quality } from '@shellguard/protocol';

export interface OracleSample {
  ts: number;
  value: number | null;
  quality: number;
}

/** The sample times at which a high limit (no delays) activates, replaying `samples` in time order. */
export function highLimitActivations(samples: readonly OracleSample[], rule: { limit: number; deadband: number }): { activations: number[]; activeAtEnd: boolean } {
  const ordered = [...samples].sort((a, b) => a.ts - b.ts);
  const activations: number[] = [];
  let active = false;
  for (const s of ordered) {
    if (s.quality !== Quality.good || s.value === null) continue;
    const raw: boolean = active ? s.value >= rule.limit - rule.deadband : s.value >= rule.limit;
    if (raw === active) continue;
    active = raw;
    if (active) activations.push(s.ts);
  }
  return { activations, activeAtEnd: active };
}

export interface AlarmTransition {
  alarmId: number;
  seq: number;
  kind: string;
  /** When the engine says it happened (the sample's time). */
  at: number;
}

/**
 * An alarm raised twice for one condition shows as two `activate` events without a `clear`
 * between (or a `clear` of an alarm that was not active). Every such place, per alarm, as text;
 * and an alarm whose stored `active` disagrees with its last transition.
 */
export function transitionProblems(alarms: readonly { id: number; key: string; active: boolean }[], events: readonly AlarmTransition[]): string[] {
  const problems: string[] = [];
  for (const alarm of alarms) {
    let active = false;
    for (const e of events) {
      if (e.alarmId !== alarm.id || (e.kind !== 'activate' && e.kind !== 'clear')) continue;
      const activates = e.kind === 'activate';
      if (activates === active) problems.push(`${alarm.key}: ${e.kind} at ${new Date(e.at).toISOString()} (event ${e.seq}) while already ${active ? 'active' : 'clear'}`);
      active = activates;
    }
    if (alarm.active !== active) problems.push(`${alarm.key}: stored active=${alarm.active}, its history ends ${active ? 'active' : 'clear'}`);
  }
  return problems;
}
