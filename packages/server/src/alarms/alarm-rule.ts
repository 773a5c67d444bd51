/**
 * Alarm rules: what makes a point's condition abnormal (ISA-18.2 §8 "alarm rationalization" output).
 *
 * A rule is defined once per equipment profile and point (`ahu-generic` / `supply_air_temp`) and
 * applies to every asset with that profile; an asset can override its parameters (site + asset +
 * rule id), e.g. a tighter limit on one hall's CRAH. Every rule carries a priority, an on-delay and
 * an off-delay (ISA-18.2 §10.4.2: the condition must hold that long before the alarm activates or
 * clears) and the maximum time it may be shelved (OPC UA Part 9 MaxTimeShelved).
 */
import type { EquipmentProfile } from '@shellguard/protocol';
import { AlarmError } from './alarm-error.ts';

export const ALARM_PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type AlarmPriority = (typeof ALARM_PRIORITIES)[number];

/** Limit levels, most severe first: high-high, high, low, low-low. */
export const LIMIT_LEVELS = ['hh', 'h', 'l', 'll'] as const;
export type LimitLevel = (typeof LIMIT_LEVELS)[number];

export const RULE_KINDS = ['limit', 'rate-of-change', 'stale', 'binary', 'anomaly'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

const DAY_MS = 86_400_000;
/** Default upper bound on shelving (one operator shift). */
export const DEFAULT_MAX_SHELVE_MS = 8 * 3_600_000;

interface RuleBase {
  /** Stable id, unique across rules: letters, digits, `.`, `_`, `-`. */
  id: string;
  /** Equipment profile id the rule applies to. */
  profile: string;
  /** Point name within the profile. */
  point: string;
  description: string;
  priority: AlarmPriority;
  /** The condition must hold this long before the alarm activates. */
  onDelayMs: number;
  /** The condition must be gone this long before the alarm clears. */
  offDelayMs: number;
  /** Longest an alarm of this rule may be shelved (timed or one-shot). */
  maxShelveMs: number;
  enabled: boolean;
}

/**
 * High/low limits. Each level given is its own alarm (ISA-18.2 treats HH and H as two alarms with
 * their own priority). A level activates at `value >= limit` (high) or `value <= limit` (low) and
 * clears only once the value is back past the limit by more than `deadband`, so a value hovering
 * at the limit does not chatter.
 */
export interface LimitRule extends RuleBase {
  kind: 'limit';
  hh?: number;
  h?: number;
  l?: number;
  ll?: number;
  deadband: number;
  /** Per-level priority; a level without one uses the rule's priority. */
  levelPriority: Partial<Record<LimitLevel, AlarmPriority>>;
}

/** Rate of change: |change| per minute, measured over the last `windowMs`, at least `ratePerMinute`. */
export interface RateOfChangeRule extends RuleBase {
  kind: 'rate-of-change';
  ratePerMinute: number;
  windowMs: number;
  direction: 'rising' | 'falling' | 'either';
  /** Clears once the rate is below `ratePerMinute - deadband`. */
  deadband: number;
}

/** Stale data / communication loss: no good-quality sample for `timeoutMs` (checked on each tick). */
export interface StaleRule extends RuleBase {
  kind: 'stale';
  timeoutMs: number;
}

/** Binary state: active while the point equals `alarmWhen`. */
export interface BinaryRule extends RuleBase {
  kind: 'binary';
  alarmWhen: boolean;
}

/** Anomaly score from a streaming detector: active while score >= threshold (after the on-delay). */
export interface AnomalyRule extends RuleBase {
  kind: 'anomaly';
  threshold: number;
  /** Clears once the score is below `threshold - deadband`. */
  deadband: number;
}

export type AlarmRule = LimitRule | RateOfChangeRule | StaleRule | BinaryRule | AnomalyRule;

/** A per-asset override as stored: which asset, which rule, the parameters it replaces. */
export interface RuleOverride {
  site: string;
  asset: string;
  ruleId: string;
  patch: Record<string, unknown>;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const POINT_RE = /^[a-z][a-z0-9_]{0,63}$/;
const COMMON_KEYS = ['id', 'profile', 'point', 'kind', 'description', 'priority', 'onDelayMs', 'offDelayMs', 'maxShelveMs', 'enabled'];
const KIND_KEYS: Record<RuleKind, string[]> = {
  limit: ['hh', 'h', 'l', 'll', 'deadband', 'levelPriority'],
  'rate-of-change': ['ratePerMinute', 'windowMs', 'direction', 'deadband'],
  stale: ['timeoutMs'],
  binary: ['alarmWhen'],
  anomaly: ['threshold', 'deadband'],
};
/** What an override may change: parameters, never identity or kind. */
const NOT_OVERRIDABLE = new Set(['id', 'profile', 'point', 'kind']);

function fail(source: string, path: string, message: string): never {
  throw new AlarmError('rule_invalid', `${source}: ${path}: ${message}`, { source, path });
}

function str(source: string, path: string, v: unknown, re?: RegExp, hint?: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(source, path, 'must be a non-empty string');
  if (re && !re.test(v)) fail(source, path, hint ?? `must match ${re}`);
  return v;
}

function num(source: string, path: string, v: unknown, opts: { fallback?: number; min?: number; max?: number; gt?: number } = {}): number {
  if (v === undefined && opts.fallback !== undefined) return opts.fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(source, path, 'must be a finite number');
  if (opts.min !== undefined && v < opts.min) fail(source, path, `must be >= ${opts.min} (got ${v})`);
  if (opts.gt !== undefined && v <= opts.gt) fail(source, path, `must be > ${opts.gt} (got ${v})`);
  if (opts.max !== undefined && v > opts.max) fail(source, path, `must be <= ${opts.max} (got ${v})`);
  return v;
}

function oneOf<T extends string>(source: string, path: string, v: unknown, allowed: readonly T[], fallback?: T): T {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(source, path, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
  }
  return v as T;
}

function bool(source: string, path: string, v: unknown, fallback?: boolean): boolean {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'boolean') fail(source, path, 'must be true or false');
  return v;
}

/**
 * Validates a rule definition (from the API, a YAML file or the CLI) and fills in defaults.
 * Throws AlarmError `rule_invalid` whose message names the offending field, e.g.
 * `rule: h: must be below hh (h 90, hh 85)`.
 */
export function parseAlarmRule(input: unknown, source = 'rule'): AlarmRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail(source, '(root)', 'must be an object');
  const r = input as Record<string, unknown>;
  const kind = oneOf(source, 'kind', r.kind, RULE_KINDS);
  const allowed = new Set([...COMMON_KEYS, ...KIND_KEYS[kind]]);
  for (const key of Object.keys(r)) {
    if (!allowed.has(key)) fail(source, key, `is not a field of a ${kind} rule (allowed: ${[...allowed].join(', ')})`);
  }
  const base: RuleBase = {
    id: str(source, 'id', r.id, ID_RE, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    profile: str(source, 'profile', r.profile),
    point: str(source, 'point', r.point, POINT_RE, 'must be a snake_case point name'),
    description: r.description === undefined ? '' : typeof r.description === 'string' ? r.description : fail(source, 'description', 'must be a string'),
    priority: oneOf(source, 'priority', r.priority, ALARM_PRIORITIES),
    onDelayMs: num(source, 'onDelayMs', r.onDelayMs, { fallback: 0, min: 0, max: DAY_MS }),
    offDelayMs: num(source, 'offDelayMs', r.offDelayMs, { fallback: 0, min: 0, max: DAY_MS }),
    maxShelveMs: num(source, 'maxShelveMs', r.maxShelveMs, { fallback: DEFAULT_MAX_SHELVE_MS, gt: 0, max: 7 * DAY_MS }),
    enabled: bool(source, 'enabled', r.enabled, true),
  };
  switch (kind) {
    case 'limit': {
      const rule: LimitRule = { ...base, kind, deadband: num(source, 'deadband', r.deadband, { fallback: 0, min: 0 }), levelPriority: {} };
      const given: [LimitLevel, number][] = [];
      for (const level of LIMIT_LEVELS) {
        if (r[level] === undefined) continue;
        rule[level] = num(source, level, r[level]);
        given.push([level, rule[level]]);
      }
      if (given.length === 0) fail(source, '(root)', 'a limit rule needs at least one of hh, h, l, ll');
      // Levels are listed most severe high first, so each given level must be above the next one.
      for (let i = 1; i < given.length; i++) {
        const [upper, uv] = given[i - 1]!;
        const [lower, lv] = given[i]!;
        if (!(uv > lv)) fail(source, lower, `must be below ${upper} (${lower} ${lv}, ${upper} ${uv})`);
      }
      if (r.levelPriority !== undefined) {
        if (typeof r.levelPriority !== 'object' || r.levelPriority === null) fail(source, 'levelPriority', 'must map levels to priorities');
        for (const [level, p] of Object.entries(r.levelPriority as Record<string, unknown>)) {
          const lvl = oneOf(source, 'levelPriority', level, LIMIT_LEVELS);
          if (rule[lvl] === undefined) fail(source, `levelPriority.${lvl}`, `gives a priority to a level without a limit`);
          rule.levelPriority[lvl] = oneOf(source, `levelPriority.${lvl}`, p, ALARM_PRIORITIES);
        }
      }
      return rule;
    }
    case 'rate-of-change': {
      const ratePerMinute = num(source, 'ratePerMinute', r.ratePerMinute, { gt: 0 });
      const deadband = num(source, 'deadband', r.deadband, { fallback: 0, min: 0 });
      if (deadband >= ratePerMinute) fail(source, 'deadband', `must be below ratePerMinute (${ratePerMinute})`);
      return {
        ...base, kind, ratePerMinute, deadband,
        windowMs: num(source, 'windowMs', r.windowMs, { fallback: 60_000, gt: 0, max: DAY_MS }),
        direction: oneOf(source, 'direction', r.direction, ['rising', 'falling', 'either'] as const, 'either'),
      };
    }
    case 'stale':
      return { ...base, kind, timeoutMs: num(source, 'timeoutMs', r.timeoutMs, { gt: 0, max: 7 * DAY_MS }) };
    case 'binary':
      return { ...base, kind, alarmWhen: bool(source, 'alarmWhen', r.alarmWhen, true) };
    case 'anomaly': {
      const threshold = num(source, 'threshold', r.threshold, { gt: 0, max: 1 });
      const deadband = num(source, 'deadband', r.deadband, { fallback: 0, min: 0 });
      if (deadband >= threshold) fail(source, 'deadband', `must be below threshold (${threshold})`);
      return { ...base, kind, threshold, deadband };
    }
  }
}

/**
 * Applies an asset's override to a rule and validates the result. Only parameters may change:
 * the override cannot rename the rule, move it to another point or change its kind.
 */
export function applyRuleOverride(rule: AlarmRule, patch: unknown, source = 'override'): AlarmRule {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) fail(source, '(root)', 'must be an object');
  for (const key of Object.keys(patch)) {
    if (NOT_OVERRIDABLE.has(key)) fail(source, key, 'cannot be overridden per asset (only parameters can)');
  }
  const merged: Record<string, unknown> = { ...rule, ...(patch as Record<string, unknown>) };
  // A level removed by the override (`h: null`) is dropped.
  for (const [k, v] of Object.entries(merged)) {
    if (v !== null) continue;
    delete merged[k];
    if (rule.kind === 'limit' && (LIMIT_LEVELS as readonly string[]).includes(k) && merged.levelPriority) {
      const { [k]: _dropped, ...rest } = merged.levelPriority as Record<string, unknown>;
      merged.levelPriority = rest;
    }
  }
  return parseAlarmRule(merged, source);
}

/**
 * Checks a rule against its equipment profile: the point exists and its kind fits the rule
 * (limits and rates need an analog point, a binary rule a binary point).
 */
export function checkRuleAgainstProfile(rule: AlarmRule, profile: EquipmentProfile, source = 'rule'): void {
  const point = profile.points.find((p) => p.name === rule.point);
  if (!point) {
    fail(source, 'point', `profile ${profile.id} has no point ${rule.point} (points: ${profile.points.map((p) => p.name).join(', ')})`);
  }
  const needs: Partial<Record<RuleKind, string[]>> = {
    limit: ['analog'], 'rate-of-change': ['analog'], binary: ['binary'], anomaly: ['analog'],
  };
  const kinds = needs[rule.kind];
  if (kinds && !kinds.includes(point.kind)) {
    fail(source, 'kind', `a ${rule.kind} rule applies only to ${kinds.join(' or ')} points; ${rule.point} is ${point.kind}`);
  }
}

/** The limit levels a limit rule defines, most severe high first. */
export function limitLevels(rule: LimitRule): LimitLevel[] {
  return LIMIT_LEVELS.filter((l) => rule[l] !== undefined);
}
