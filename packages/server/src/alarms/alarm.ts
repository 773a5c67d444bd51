/**
 * What an alarm is once a rule has been bound to one asset's point (ISA-18.2 "alarm"), as the
 * engine, the store, the API and the webhooks see it.
 */
import type { AlarmPriority, LimitLevel, RuleKind } from './alarm-rule.ts';
import type { AlarmState } from './alarm-state.ts';

/** Rule id of the summary alarm raised per site when too many alarms annunciate (ISA-18.2 §16.5). */
export const FLOOD_RULE_ID = 'alarm-flood';

export interface ShelveInfo {
  kind: 'one-shot' | 'timed';
  by: string;
  at: number;
  /** When shelving ends on its own: the requested duration, or the rule's maximum for one-shot. */
  until: number;
  comment: string;
}

export interface OutOfServiceInfo {
  by: string;
  at: number;
  comment: string;
}

export interface Alarm {
  /** Stable numeric id (for URLs and the CLI). */
  id: number;
  /** `site/asset/point/rule[:level]`, or `site/alarm-flood` for the flood summary alarm. */
  key: string;
  ruleId: string;
  kind: RuleKind | 'flood';
  /** Limit level for limit rules, else null. */
  level: LimitLevel | null;
  site: string;
  asset: string;
  point: string;
  priority: AlarmPriority;
  description: string;
  state: AlarmState;
  active: boolean;
  acknowledged: boolean;
  shelved: ShelveInfo | null;
  /** Suppressed by design: the asset is in maintenance. */
  suppressed: boolean;
  outOfService: OutOfServiceInfo | null;
  /** Shown to operators: neither shelved, suppressed nor out of service. */
  annunciated: boolean;
  /** When the current activation began; null while cleared. */
  activeSince: number | null;
  changedAt: number;
  /** Last value (or score) evaluated; the flood alarm's is its count in the window. */
  value: number | boolean | null;
  /** An on-delay or off-delay running: the alarm becomes `to` at `deadline` unless the condition changes. */
  pending: { to: 'active' | 'cleared'; deadline: number } | null;
  /** The rule no longer applies (removed, disabled or the level dropped by an override). */
  retired: boolean;
}

export type AlarmEventKind =
  | 'activate' | 'clear' | 'acknowledge' | 'shelve' | 'unshelve' | 'suppress' | 'unsuppress'
  | 'remove-from-service' | 'return-to-service' | 'retire';

/** One entry of an alarm's history. */
export interface AlarmEvent {
  seq: number;
  alarmId: number;
  at: number;
  kind: AlarmEventKind;
  /** `system` for the engine itself, else the operator (e.g. `token:<id>`). */
  actor: string;
  comment: string;
  /** State after the event. */
  state: AlarmState;
  annunciated: boolean;
  value: number | boolean | null;
  detail: Record<string, unknown>;
}

export type AlarmListState = AlarmState | 'shelved' | 'suppressed' | 'out-of-service';

export interface AlarmFilter {
  state?: AlarmListState;
  site?: string;
  asset?: string;
  priority?: AlarmPriority;
  /** Include alarms whose rule no longer applies (default false). */
  includeRetired?: boolean;
}

export type AssetMode = 'normal' | 'maintenance';
