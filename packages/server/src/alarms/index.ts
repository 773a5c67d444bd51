export {
  AlarmEngine, type AlarmEngineOptions, type AlarmNotification, type AlarmPersistFailure, type AlarmStores, type FloodOptions, type ShelveRequest,
} from './alarm-engine.ts';
export type { AlarmStore, NewAlarmEvent, StoredAsset } from './alarm-store.ts';
export { SqlAlarmStore } from './sql-alarm-store.ts';
export {
  FLOOD_RULE_ID, type Alarm, type AlarmEvent, type AlarmEventKind, type AlarmFilter, type AlarmListState, type AssetMode,
  type OutOfServiceInfo, type ShelveInfo,
} from './alarm.ts';
export { AlarmError, type AlarmErrorCode } from './alarm-error.ts';
export {
  ALARM_PRIORITIES, DEFAULT_MAX_SHELVE_MS, LIMIT_LEVELS, RULE_KINDS, applyRuleOverride, checkRuleAgainstProfile, parseAlarmRule,
  type AlarmPriority, type AlarmRule, type AnomalyRule, type BinaryRule, type LimitLevel, type LimitRule, type RateOfChangeRule,
  type RuleKind, type RuleOverride, type StaleRule,
} from './alarm-rule.ts';
export { ALARM_STATES, alarmStateOf, nextAlarmState, type AlarmState, type ConditionEvent } from './alarm-state.ts';
export {
  DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, signWebhookBody, verifyWebhookSignature,
  type AlarmNotifier, type WebhookDeliveryFailure, type WebhookNotifierOptions, type WebhookStats, type WebhookTarget,
  type WebhookTransport, type WebhookVerification,
} from './webhook-notifier.ts';
