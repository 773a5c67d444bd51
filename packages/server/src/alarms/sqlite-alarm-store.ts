/**
 * Persistence of the alarm domain in the server's SQLite database: rules, per-asset overrides,
 * asset profiles and modes, every alarm's current record (including its pending on/off-delay
 * deadline and shelving expiry, so timers resume after a restart) and every alarm's history.
 *
 * The engine keeps all alarms in memory and writes through on each change; only state changes
 * write, never a sample that changes nothing.
 */
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import type { Alarm, AlarmEvent, AssetMode } from './alarm.ts';
import type { AlarmRule, RuleOverride } from './alarm-rule.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'alarm rules, overrides, assets, alarms and their history',
    up(db) {
      db.exec(`CREATE TABLE alarm_rules (
        id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      )`);
      db.exec(`CREATE TABLE alarm_rule_overrides (
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        patch TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (site, asset, rule_id)
      )`);
      db.exec(`CREATE TABLE alarm_assets (
        site TEXT NOT NULL,
        asset TEXT NOT NULL,
        profile TEXT,
        mode TEXT NOT NULL DEFAULT 'normal',
        PRIMARY KEY (site, asset)
      )`);
      db.exec(`CREATE TABLE alarms (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL
      )`);
      db.exec(`CREATE TABLE alarm_events (
        seq INTEGER PRIMARY KEY,
        alarm_id INTEGER NOT NULL REFERENCES alarms (id),
        site TEXT NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        comment TEXT NOT NULL,
        state TEXT NOT NULL,
        annunciated INTEGER NOT NULL,
        new_annunciation INTEGER NOT NULL,
        value TEXT NOT NULL,
        detail TEXT NOT NULL
      )`);
      db.exec('CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id, seq)');
      db.exec('CREATE INDEX alarm_events_annunciations ON alarm_events (new_annunciation, at)');
    },
  },
];

interface EventRow {
  seq: number; alarm_id: number; at: number; kind: string; actor: string; comment: string; state: string;
  annunciated: number; value: string; detail: string;
}

export interface StoredAsset {
  site: string;
  asset: string;
  profile: string | null;
  mode: AssetMode;
}

function prepareStatements(db: SqliteDatabase) {
  return {
    upsertRule: db.prepare(`INSERT INTO alarm_rules (id, definition, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`),
    upsertOverride: db.prepare(`INSERT INTO alarm_rule_overrides (site, asset, rule_id, patch, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (site, asset, rule_id) DO UPDATE SET patch = excluded.patch, updated_at = excluded.updated_at`),
    deleteOverride: db.prepare('DELETE FROM alarm_rule_overrides WHERE site = ? AND asset = ? AND rule_id = ?'),
    upsertAssetProfile: db.prepare(`INSERT INTO alarm_assets (site, asset, profile) VALUES (?, ?, ?)
      ON CONFLICT (site, asset) DO UPDATE SET profile = excluded.profile`),
    upsertAssetMode: db.prepare(`INSERT INTO alarm_assets (site, asset, mode) VALUES (?, ?, ?)
      ON CONFLICT (site, asset) DO UPDATE SET mode = excluded.mode`),
    insertAlarm: db.prepare('INSERT INTO alarms (key, record) VALUES (?, ?)'),
    updateAlarm: db.prepare('UPDATE alarms SET record = ? WHERE id = ?'),
    insertEvent: db.prepare(`INSERT INTO alarm_events
      (alarm_id, site, at, kind, actor, comment, state, annunciated, new_annunciation, value, detail)
      VALUES (@alarmId, @site, @at, @kind, @actor, @comment, @state, @annunciated, @newAnnunciation, @value, @detail)`),
    history: db.prepare('SELECT * FROM alarm_events WHERE alarm_id = ? ORDER BY seq LIMIT ?'),
    annunciationsSince: db.prepare(`SELECT e.site AS site, e.at AS at FROM alarm_events e
      WHERE e.new_annunciation = 1 AND e.at > ? ORDER BY e.at`),
  };
}

export class SqliteAlarmStore {
  private readonly db: SqliteDatabase;
  private readonly stmts: ReturnType<typeof prepareStatements>;

  constructor(db: SqliteDatabase) {
    this.db = db;
    runMigrations(db, 'alarms', MIGRATIONS);
    this.stmts = prepareStatements(db);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  loadRules(): AlarmRule[] {
    return (this.db.prepare('SELECT definition FROM alarm_rules ORDER BY id').all() as { definition: string }[])
      .map((r) => JSON.parse(r.definition) as AlarmRule);
  }

  saveRule(rule: AlarmRule, now: number): void {
    this.stmts.upsertRule.run(rule.id, JSON.stringify(rule), now);
  }

  loadOverrides(): RuleOverride[] {
    return (this.db.prepare('SELECT site, asset, rule_id, patch FROM alarm_rule_overrides ORDER BY site, asset, rule_id').all() as
      { site: string; asset: string; rule_id: string; patch: string }[])
      .map((r) => ({ site: r.site, asset: r.asset, ruleId: r.rule_id, patch: JSON.parse(r.patch) as Record<string, unknown> }));
  }

  saveOverride(o: RuleOverride, now: number): void {
    this.stmts.upsertOverride.run(o.site, o.asset, o.ruleId, JSON.stringify(o.patch), now);
  }

  deleteOverride(site: string, asset: string, ruleId: string): boolean {
    return this.stmts.deleteOverride.run(site, asset, ruleId).changes > 0;
  }

  loadAssets(): StoredAsset[] {
    return this.db.prepare('SELECT site, asset, profile, mode FROM alarm_assets ORDER BY site, asset').all() as StoredAsset[];
  }

  saveAssetProfile(site: string, asset: string, profile: string): void {
    this.stmts.upsertAssetProfile.run(site, asset, profile);
  }

  saveAssetMode(site: string, asset: string, mode: AssetMode): void {
    this.stmts.upsertAssetMode.run(site, asset, mode);
  }

  loadAlarms(): Alarm[] {
    return (this.db.prepare('SELECT id, record FROM alarms ORDER BY id').all() as { id: number; record: string }[])
      .map((r) => ({ ...(JSON.parse(r.record) as Alarm), id: r.id }));
  }

  /** Inserts a new alarm and returns its id. */
  insertAlarm(alarm: Omit<Alarm, 'id'>): number {
    return Number(this.stmts.insertAlarm.run(alarm.key, JSON.stringify(alarm)).lastInsertRowid);
  }

  saveAlarm(alarm: Alarm): void {
    this.stmts.updateAlarm.run(JSON.stringify(alarm), alarm.id);
  }

  appendEvent(event: Omit<AlarmEvent, 'seq'>, site: string, newAnnunciation: boolean): AlarmEvent {
    const info = this.stmts.insertEvent.run({
      alarmId: event.alarmId, site, at: event.at, kind: event.kind, actor: event.actor, comment: event.comment,
      state: event.state, annunciated: event.annunciated ? 1 : 0, newAnnunciation: newAnnunciation ? 1 : 0,
      value: JSON.stringify(event.value), detail: JSON.stringify(event.detail),
    });
    return { ...event, seq: Number(info.lastInsertRowid) };
  }

  history(alarmId: number, limit: number): AlarmEvent[] {
    return (this.stmts.history.all(alarmId, limit) as EventRow[]).map((r) => ({
      seq: r.seq, alarmId: r.alarm_id, at: r.at, kind: r.kind as AlarmEvent['kind'], actor: r.actor, comment: r.comment,
      state: r.state as AlarmEvent['state'], annunciated: r.annunciated === 1,
      value: JSON.parse(r.value) as AlarmEvent['value'], detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }

  /** Times of new annunciations after `since`, per site (to rebuild the flood windows after a restart). */
  annunciationsSince(since: number): { site: string; at: number }[] {
    return this.stmts.annunciationsSince.all(since) as { site: string; at: number }[];
  }
}
