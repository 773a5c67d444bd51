/**
 * TypeBox schemas of the alarm routes (ISA-18.2 alarms, their rules, per-asset overrides and asset
 * modes). Rule bodies are open objects here: `parseAlarmRule` validates them in full and names the
 * offending field, which a JSON schema of five rule kinds would only say less clearly.
 */
import { Type, type Static } from '@fastify/type-provider-typebox';
import { ALARM_PRIORITIES } from '../alarms/alarm-rule.ts';
import { ALARM_STATES } from '../alarms/alarm-state.ts';

// An enum of strings, typed as their union (Type.Union over a mapped array loses the literals).
const literals = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: [...values] });
// The same rule as the protocol's isValidId (topic-safe ids).
const Name = (description: string) => Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$', description });
const Comment = Type.String({ maxLength: 1000, description: 'Why (kept in the alarm history and the audit log)' });
const Nullable = <T extends ReturnType<typeof Type.Object>>(schema: T) => Type.Union([schema, Type.Null()]);

export const AlarmPriority = literals(ALARM_PRIORITIES);
export const AlarmListState = literals([...ALARM_STATES, 'shelved', 'suppressed', 'out-of-service'] as const);
export const AssetModeValue = literals(['normal', 'maintenance'] as const);

export const AlarmIdParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'Alarm id' }) });
export const AssetParams = Type.Object({ site: Name('Site id'), asset: Name('Asset id') });
export const RuleId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Alarm rule id' });
export const OverrideParams = Type.Object({ ...AssetParams.properties, ruleId: RuleId });

export const AlarmQuery = Type.Object({
  state: Type.Optional(AlarmListState),
  site: Type.Optional(Type.String({ maxLength: 128 })),
  asset: Type.Optional(Type.String({ maxLength: 128 })),
  priority: Type.Optional(AlarmPriority),
});
export type AlarmQuery = Static<typeof AlarmQuery>;

export const Alarm = Type.Object({
  id: Type.Integer(),
  key: Type.String({ description: 'site/asset/point/rule[:level], or site/alarm-flood' }),
  ruleId: Type.String(),
  kind: Type.String({ description: 'limit, rate-of-change, stale, binary, anomaly or flood' }),
  level: Type.Union([Type.String(), Type.Null()], { description: 'hh, h, l or ll for limit rules' }),
  site: Type.String(),
  asset: Type.String(),
  point: Type.String(),
  priority: AlarmPriority,
  description: Type.String(),
  state: literals(ALARM_STATES),
  active: Type.Boolean(),
  acknowledged: Type.Boolean(),
  shelved: Nullable(Type.Object({
    kind: Type.Union([Type.Literal('one-shot'), Type.Literal('timed')]),
    by: Type.String(), at: Type.Integer(), until: Type.Integer({ description: 'When shelving ends on its own (epoch ms)' }),
    comment: Type.String(),
  })),
  suppressed: Type.Boolean({ description: 'Suppressed by design: the asset is in maintenance' }),
  outOfService: Nullable(Type.Object({ by: Type.String(), at: Type.Integer(), comment: Type.String() })),
  annunciated: Type.Boolean({ description: 'Shown to operators: neither shelved, suppressed nor out of service' }),
  activeSince: Type.Union([Type.Integer(), Type.Null()]),
  changedAt: Type.Integer(),
  value: Type.Union([Type.Number(), Type.Boolean(), Type.Null()]),
  pending: Nullable(Type.Object({
    to: Type.Union([Type.Literal('active'), Type.Literal('cleared')]),
    deadline: Type.Integer(),
  }, { description: 'An on-delay or off-delay running' })),
  retired: Type.Boolean(),
});
export const AlarmResponse = Type.Object({ alarm: Alarm });
export const AlarmListResponse = Type.Object({ alarms: Type.Array(Alarm) });

export const AlarmEvent = Type.Object({
  seq: Type.Integer(),
  alarmId: Type.Integer(),
  at: Type.Integer(),
  kind: Type.String(),
  actor: Type.String({ description: '`system` or the operator, e.g. token:<id>' }),
  comment: Type.String(),
  state: literals(ALARM_STATES),
  annunciated: Type.Boolean(),
  value: Type.Union([Type.Number(), Type.Boolean(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown()),
});
export const AlarmHistoryResponse = Type.Object({ events: Type.Array(AlarmEvent) });

export const CommentBody = Type.Object({ comment: Type.Optional(Comment) });
export const ShelveBody = Type.Object({
  kind: Type.Union([Type.Literal('one-shot'), Type.Literal('timed')]),
  durationMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Required for timed shelving; at most the rule\'s maxShelveMs' })),
  comment: Type.Optional(Comment),
});
export type ShelveBody = Static<typeof ShelveBody>;

/** A rule as defined: the common fields plus its kind's parameters (extra properties are kept). */
export const AlarmRule = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  profile: Type.String(),
  point: Type.String(),
  description: Type.String(),
  priority: AlarmPriority,
  onDelayMs: Type.Number(),
  offDelayMs: Type.Number(),
  maxShelveMs: Type.Number(),
  enabled: Type.Boolean(),
}, { additionalProperties: true });
export const AlarmRuleResponse = Type.Object({ rule: AlarmRule });
export const AlarmRuleListResponse = Type.Object({ rules: Type.Array(AlarmRule) });
export const AlarmRuleQuery = Type.Object({ profile: Type.Optional(Type.String({ maxLength: 128 })) });

export const AlarmRuleDefinition = Type.Object({}, {
  additionalProperties: true,
  description: 'A rule: id, kind (limit, rate-of-change, stale, binary, anomaly), profile, point, priority and the kind\'s parameters',
});
export const RuleOverridePatch = Type.Object({}, {
  additionalProperties: true,
  description: 'Parameters to replace for this asset, e.g. {"h": 27, "onDelayMs": 30000} or {"enabled": false}; null removes a limit level',
});
export const RuleOverrideResponse = Type.Object({
  override: Type.Object({ site: Type.String(), asset: Type.String(), ruleId: Type.String(), patch: Type.Record(Type.String(), Type.Unknown()) }),
  rule: AlarmRule,
}, { description: 'The override as stored and the rule now in effect for the asset' });

export const AssetModeBody = Type.Object({ mode: AssetModeValue, comment: Type.Optional(Comment) });
export const AssetModeResponse = Type.Object({ site: Type.String(), asset: Type.String(), mode: AssetModeValue });
