/**
 * The alarm domain's tables on either engine, through kysely (issue 12); see alarm-store.ts for
 * what each method keeps. An alarm's record is its JSON (with its pending deadline and shelving
 * expiry); its history is one row per event, numbered by the database.
 */
import { type Generated, type Kysely, type Selectable } from 'kysely';
import type { SqlExecutor } from '../db/sql-database.ts';
import type { Alarm, AlarmEvent, AssetMode } from './alarm.ts';
import type { AlarmRule, RuleOverride } from './alarm-rule.ts';
import type { AlarmStore, NewAlarmEvent, StoredAsset } from './alarm-store.ts';

interface AlarmTables {
  alarm_rules: { id: string; definition: string; updated_at: number };
  alarm_rule_overrides: { site: string; asset: string; rule_id: string; patch: string; updated_at: number };
  alarm_assets: { site: string; asset: string; profile: string | null; mode: Generated<AssetMode> };
  alarms: { id: number; key: string; record: string };
  alarm_events: {
    seq: Generated<number>; alarm_id: number; site: string; at: number; kind: string; actor: string; comment: string; state: string;
    annunciated: number; new_annunciation: number; value: string; detail: string;
  };
  alarm_id_counter: { id: number; next_id: number };
  alarm_handled_messages: { id: string; at: number };
}

type AlarmDb = Kysely<AlarmTables>;

function toEvent(r: Selectable<AlarmTables['alarm_events']>): AlarmEvent {
  return {
    seq: r.seq, alarmId: r.alarm_id, at: r.at, kind: r.kind as AlarmEvent['kind'], actor: r.actor, comment: r.comment,
    state: r.state as AlarmEvent['state'], annunciated: r.annunciated === 1,
    value: JSON.parse(r.value) as AlarmEvent['value'], detail: JSON.parse(r.detail) as Record<string, unknown>,
  };
}

export class SqlAlarmStore implements AlarmStore {
  private readonly db: AlarmDb;

  constructor(exec: SqlExecutor) {
    this.db = exec as AlarmDb;
  }

  async loadRules(): Promise<AlarmRule[]> {
    const rows = await this.db.selectFrom('alarm_rules').select('definition').orderBy('id').execute();
    return rows.map((r) => JSON.parse(r.definition) as AlarmRule);
  }

  async saveRule(rule: AlarmRule, at: number): Promise<void> {
    await this.db.insertInto('alarm_rules').values({ id: rule.id, definition: JSON.stringify(rule), updated_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ definition: eb.ref('excluded.definition'), updated_at: eb.ref('excluded.updated_at') })))
      .execute();
  }

  async loadOverrides(): Promise<RuleOverride[]> {
    const rows = await this.db.selectFrom('alarm_rule_overrides').select(['site', 'asset', 'rule_id', 'patch'])
      .orderBy('site').orderBy('asset').orderBy('rule_id').execute();
    return rows.map((r) => ({ site: r.site, asset: r.asset, ruleId: r.rule_id, patch: JSON.parse(r.patch) as Record<string, unknown> }));
  }

  async saveOverride(o: RuleOverride, at: number): Promise<void> {
    await this.db.insertInto('alarm_rule_overrides')
      .values({ site: o.site, asset: o.asset, rule_id: o.ruleId, patch: JSON.stringify(o.patch), updated_at: at })
      .onConflict((oc) => oc.columns(['site', 'asset', 'rule_id'])
        .doUpdateSet((eb) => ({ patch: eb.ref('excluded.patch'), updated_at: eb.ref('excluded.updated_at') })))
      .execute();
  }

  async deleteOverride(site: string, asset: string, ruleId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('alarm_rule_overrides')
      .where('site', '=', site).where('asset', '=', asset).where('rule_id', '=', ruleId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async loadAssets(): Promise<StoredAsset[]> {
    return this.db.selectFrom('alarm_assets').select(['site', 'asset', 'profile', 'mode']).orderBy('site').orderBy('asset').execute();
  }

  async saveAssetProfile(site: string, asset: string, profile: string): Promise<void> {
    await this.db.insertInto('alarm_assets').values({ site, asset, profile })
      .onConflict((oc) => oc.columns(['site', 'asset']).doUpdateSet((eb) => ({ profile: eb.ref('excluded.profile') })))
      .execute();
  }

  async saveAssetMode(site: string, asset: string, mode: AssetMode): Promise<void> {
    await this.db.insertInto('alarm_assets').values({ site, asset, mode })
      .onConflict((oc) => oc.columns(['site', 'asset']).doUpdateSet((eb) => ({ mode: eb.ref('excluded.mode') })))
      .execute();
  }

  async reserveAlarmIds(count: number): Promise<number> {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`reserve at least one alarm id (asked ${count})`);
    // One atomic UPDATE: concurrent reservations (PostgreSQL replicas) queue on the row's lock.
    const row = await this.db.updateTable('alarm_id_counter').set((eb) => ({ next_id: eb('next_id', '+', count) }))
      .where('id', '=', 1).returning('next_id').executeTakeFirstOrThrow();
    return row.next_id - count;
  }

  async loadAlarms(): Promise<Alarm[]> {
    const rows = await this.db.selectFrom('alarms').select(['id', 'record']).orderBy('id').execute();
    return rows.map((r) => ({ ...(JSON.parse(r.record) as Alarm), id: r.id }));
  }

  async saveAlarm(alarm: Alarm): Promise<void> {
    await this.db.insertInto('alarms').values({ id: alarm.id, key: alarm.key, record: JSON.stringify(alarm) })
      // The key never changes; a key another alarm holds fails on the UNIQUE constraint.
      .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ record: eb.ref('excluded.record') })))
      .execute();
  }

  async appendEvent(event: NewAlarmEvent, site: string, newAnnunciation: boolean): Promise<AlarmEvent> {
    const row = await this.db.insertInto('alarm_events').values({
      alarm_id: event.alarmId, site, at: event.at, kind: event.kind, actor: event.actor, comment: event.comment,
      state: event.state, annunciated: event.annunciated ? 1 : 0, new_annunciation: newAnnunciation ? 1 : 0,
      value: JSON.stringify(event.value), detail: JSON.stringify(event.detail),
    }).returning('seq').executeTakeFirstOrThrow();
    return { ...event, seq: row.seq };
  }

  async history(alarmId: number, limit: number): Promise<AlarmEvent[]> {
    const rows = await this.db.selectFrom('alarm_events').selectAll().where('alarm_id', '=', alarmId)
      .orderBy('seq').limit(limit).execute();
    return rows.map(toEvent);
  }

  async annunciationsSince(since: number): Promise<{ site: string; at: number }[]> {
    return this.db.selectFrom('alarm_events').select(['site', 'at'])
      .where('new_annunciation', '=', 1).where('at', '>', since).orderBy('at').orderBy('seq').execute();
  }

  async wasHandled(messageId: string): Promise<boolean> {
    const row = await this.db.selectFrom('alarm_handled_messages').select('id').where('id', '=', messageId).executeTakeFirst();
    return row !== undefined;
  }

  async markHandled(messageId: string, at: number): Promise<boolean> {
    const r = await this.db.insertInto('alarm_handled_messages').values({ id: messageId, at })
      .onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async forgetHandledBefore(before: number): Promise<number> {
    const r = await this.db.deleteFrom('alarm_handled_messages').where('at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
