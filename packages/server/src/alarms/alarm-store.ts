/**
 * The alarm engine's persistence port (issue 12): rules, per-asset overrides, asset profiles and
 * modes, every alarm's current record (with its pending on/off-delay deadline and shelving expiry,
 * so timers resume after a restart), every alarm's history and the times of new annunciations
 * (to rebuild the flood windows). Async, so PostgreSQL can hold it; implemented by
 * sql-alarm-store.ts.
 */
import type { Alarm, AlarmEvent, AssetMode } from './alarm.ts';
import type { AlarmRule, RuleOverride } from './alarm-rule.ts';

export interface StoredAsset {
  site: string;
  asset: string;
  profile: string | null;
  mode: AssetMode;
}

export type NewAlarmEvent = Omit<AlarmEvent, 'seq'>;

export interface AlarmStore {
  /** Every rule definition, by id. */
  loadRules(): Promise<AlarmRule[]>;
  /** Creates or replaces the rule of `rule.id`. */
  saveRule(rule: AlarmRule, at: number): Promise<void>;
  /** Every override, by site, asset and rule. */
  loadOverrides(): Promise<RuleOverride[]>;
  /** Creates or replaces the override of (site, asset, rule). */
  saveOverride(override: RuleOverride, at: number): Promise<void>;
  /** False when there was none. */
  deleteOverride(site: string, asset: string, ruleId: string): Promise<boolean>;
  /** Every asset the engine was told about, by site and asset. */
  loadAssets(): Promise<StoredAsset[]>;
  /** Sets an asset's profile, keeping its mode (`normal` for a new one). */
  saveAssetProfile(site: string, asset: string, profile: string): Promise<void>;
  /** Sets an asset's mode, keeping its profile (none for a new one). */
  saveAssetMode(site: string, asset: string, mode: AssetMode): Promise<void>;
  /**
   * Reserves `count` consecutive alarm ids no other reservation (of any replica) receives, and
   * returns the first. The engine names new alarms from these without waiting for the database.
   */
  reserveAlarmIds(count: number): Promise<number>;
  /** Every alarm, by id. */
  loadAlarms(): Promise<Alarm[]>;
  /** Creates or replaces the record of alarm `alarm.id`; refuses a key another alarm has. */
  saveAlarm(alarm: Alarm): Promise<void>;
  /** Appends to the alarm's history; `newAnnunciation` marks what counts towards flood detection. */
  appendEvent(event: NewAlarmEvent, site: string, newAnnunciation: boolean): Promise<AlarmEvent>;
  /** The alarm's first `limit` events, oldest first. */
  history(alarmId: number, limit: number): Promise<AlarmEvent[]>;
  /** Times of new annunciations after `since`, per site, oldest first. */
  annunciationsSince(since: number): Promise<{ site: string; at: number }[]>;
  /** True when the effects of bus message `messageId` were stored (see `markHandled`). */
  wasHandled(messageId: string): Promise<boolean>;
  /**
   * Records that bus message `messageId`'s alarm effects are stored; written in the same
   * transaction as those effects, so a redelivery after a crash is recognised. False when it was
   * recorded before.
   */
  markHandled(messageId: string, at: number): Promise<boolean>;
  /** Forgets handled messages recorded before `before` (older than the bus keeps); how many. */
  forgetHandledBefore(before: number): Promise<number>;
}
