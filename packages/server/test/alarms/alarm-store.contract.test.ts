/**
 * The AlarmStore contract (alarm-store.ts), run on every engine: what the alarm engine relies on
 * when it loads its state, stores changes in its unit of work and reserves alarm ids.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { AuditRecorder } from '../../src/audit/audit-log.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import type { Alarm } from '../../src/alarms/alarm.ts';
import type { AlarmRule } from '../../src/alarms/alarm-rule.ts';
import { ALARM_MIGRATIONS } from '../../src/alarms/alarm-schema.ts';
import type { NewAlarmEvent } from '../../src/alarms/alarm-store.ts';
import { SqlAlarmStore } from '../../src/alarms/sql-alarm-store.ts';

const T0 = 1_750_000_000_000;

function rule(id: string, h = 30): AlarmRule {
  return {
    id, kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', description: '', enabled: true,
    onDelayMs: 0, offDelayMs: 0, deadband: 0, maxShelveMs: 3_600_000, h, levelPriority: {},
  } as AlarmRule;
}

function alarm(id: number, key = `dc1/AHU-1/supply_air_temp/ahu.sat:h-${id}`, extra: Partial<Alarm> = {}): Alarm {
  return {
    id, key, ruleId: 'ahu.sat', kind: 'limit', level: 'h', site: 'dc1', asset: 'AHU-1', point: 'supply_air_temp', priority: 'high',
    description: 'Supply air', state: 'normal', active: false, acknowledged: true, shelved: null, suppressed: false, outOfService: null,
    annunciated: true, activeSince: null, changedAt: T0, value: null, pending: null, retired: false, ...extra,
  };
}

function event(alarmId: number, at: number, extra: Partial<NewAlarmEvent> = {}): NewAlarmEvent {
  return {
    alarmId, at, kind: 'activate', actor: 'system', comment: '', state: 'unack-active', annunciated: true, value: 31.5, detail: {}, ...extra,
  };
}

describe.each(SQL_ENGINES)('AlarmStore contract (%s)', (engine) => {
  let t: TestDatabase;
  let store: SqlAlarmStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'alarms');
    await runSqlMigrations(t.database, 'alarms', ALARM_MIGRATIONS);
    store = new SqlAlarmStore(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });

  it('keeps rule definitions by id, a second save replacing the first', async () => {
    expect(await store.loadRules()).toEqual([]);
    await store.saveRule(rule('b.rule'), T0);
    await store.saveRule(rule('a.rule'), T0);
    await store.saveRule(rule('b.rule', 40), T0 + 1);
    expect(await store.loadRules()).toEqual([rule('a.rule'), rule('b.rule', 40)]);
  });

  it('keeps one override per site, asset and rule, and deletes it once', async () => {
    await store.saveOverride({ site: 'dc2', asset: 'AHU-1', ruleId: 'r', patch: { h: 25 } }, T0);
    await store.saveOverride({ site: 'dc1', asset: 'AHU-2', ruleId: 'r', patch: { h: 26 } }, T0);
    await store.saveOverride({ site: 'dc1', asset: 'AHU-1', ruleId: 'r', patch: { h: 27 } }, T0);
    await store.saveOverride({ site: 'dc1', asset: 'AHU-1', ruleId: 'r', patch: { enabled: false, hh: null } }, T0 + 1);
    expect(await store.loadOverrides()).toEqual([
      { site: 'dc1', asset: 'AHU-1', ruleId: 'r', patch: { enabled: false, hh: null } },
      { site: 'dc1', asset: 'AHU-2', ruleId: 'r', patch: { h: 26 } },
      { site: 'dc2', asset: 'AHU-1', ruleId: 'r', patch: { h: 25 } },
    ]);
    expect(await store.deleteOverride('dc1', 'AHU-2', 'r')).toBe(true);
    expect(await store.deleteOverride('dc1', 'AHU-2', 'r')).toBe(false);
    expect(await store.deleteOverride('dc1', 'ahu-1', 'r')).toBe(false); // names are compared exactly
    expect(await store.loadOverrides()).toHaveLength(2);
  });

  it('keeps an asset\'s profile and mode apart: setting one keeps the other', async () => {
    await store.saveAssetMode('dc1', 'GEN-1', 'maintenance');
    await store.saveAssetProfile('dc1', 'AHU-1', 'ahu-test');
    await store.saveAssetMode('dc1', 'AHU-1', 'maintenance');
    await store.saveAssetProfile('dc1', 'AHU-1', 'ahu-2');
    await store.saveAssetProfile('dc1', 'GEN-1', 'gen-test');
    await store.saveAssetMode('dc1', 'GEN-1', 'normal');
    expect(await store.loadAssets()).toEqual([
      { site: 'dc1', asset: 'AHU-1', profile: 'ahu-2', mode: 'maintenance' },
      { site: 'dc1', asset: 'GEN-1', profile: 'gen-test', mode: 'normal' },
    ]);
  });

  it('reserves consecutive blocks of alarm ids that never overlap, and refuses an empty one', async () => {
    const a = await store.reserveAlarmIds(10);
    const b = await store.reserveAlarmIds(1);
    const c = await store.reserveAlarmIds(5);
    expect(a).toBe(1);
    expect([b, c]).toEqual([11, 12]);
    await expect(store.reserveAlarmIds(0)).rejects.toThrow(RangeError);
    expect(await store.reserveAlarmIds(1)).toBe(17);
  });

  it.runIf(engine === 'postgres')('gives two replicas reserving at once disjoint ids', async () => {
    const other = new SqlAlarmStore(t.reopen().db);
    const firsts = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).reserveAlarmIds(3)));
    const ids = firsts.flatMap((f) => [f, f + 1, f + 2]);
    expect(new Set(ids).size).toBe(60);
  });

  it('starts reserving after the ids of alarms stored before reservations existed (migration 2)', async () => {
    const older = await createTestDatabase(engine, 'alarms_v1');
    try {
      await runSqlMigrations(older.database, 'alarms', ALARM_MIGRATIONS.slice(0, 1));
      await sql`INSERT INTO alarms (id, key, record) VALUES (7, 'k7', '{}'), (3, 'k3', '{}')`.execute(older.database.db);
      await runSqlMigrations(older.database, 'alarms', ALARM_MIGRATIONS);
      expect(await new SqlAlarmStore(older.database.db).reserveAlarmIds(2)).toBe(8);
    } finally {
      await older.destroy();
    }
  });

  it('creates an alarm\'s record, replaces it by id, and loads every alarm by id', async () => {
    await store.saveAlarm(alarm(5));
    await store.saveAlarm(alarm(2));
    const changed = alarm(5, undefined, {
      state: 'unack-active', active: true, acknowledged: false, activeSince: T0 + 5, value: true,
      shelved: { kind: 'timed', by: 'token:op', at: T0, until: T0 + 60_000, comment: 'x' }, pending: { to: 'cleared', deadline: T0 + 9 },
    });
    await store.saveAlarm(changed);
    expect(await store.loadAlarms()).toEqual([alarm(2), changed]);
  });

  it('refuses a second alarm with a key another alarm has', async () => {
    await store.saveAlarm(alarm(1, 'dc1/same'));
    await expect(store.saveAlarm(alarm(2, 'dc1/same'))).rejects.toThrow();
    expect((await store.loadAlarms()).map((a) => a.id)).toEqual([1]);
  });

  it('numbers history entries in order and reads the first `limit` oldest first', async () => {
    await store.saveAlarm(alarm(1));
    await store.saveAlarm(alarm(2));
    const e1 = await store.appendEvent(event(1, T0 + 1), 'dc1', true);
    const other = await store.appendEvent(event(2, T0 + 2), 'dc1', true);
    const e2 = await store.appendEvent(event(1, T0 + 3, {
      kind: 'acknowledge', actor: 'token:op', comment: 'seen', state: 'ack-active', annunciated: false, value: false, detail: { kind: 'timed', n: 2 },
    }), 'dc1', false);
    const e3 = await store.appendEvent(event(1, T0 + 4, { kind: 'clear', state: 'normal', value: null }), 'dc1', false);
    expect(e1.seq).toBeLessThan(other.seq);
    expect(other.seq).toBeLessThan(e2.seq);
    expect(e2.seq).toBeLessThan(e3.seq);
    expect(e2).toEqual({ ...event(1, T0 + 3), kind: 'acknowledge', actor: 'token:op', comment: 'seen', state: 'ack-active', annunciated: false, value: false, detail: { kind: 'timed', n: 2 }, seq: e2.seq });
    expect(await store.history(1, 100)).toEqual([e1, e2, e3]);
    expect(await store.history(1, 2)).toEqual([e1, e2]);
    expect(await store.history(3, 100)).toEqual([]);
  });

  it('refuses history of an alarm it does not hold', async () => {
    await expect(store.appendEvent(event(99, T0), 'dc1', false)).rejects.toThrow();
  });

  it('lists the new annunciations after a time, oldest first, per site', async () => {
    await store.saveAlarm(alarm(1));
    await store.appendEvent(event(1, T0 + 30), 'dc2', true);
    await store.appendEvent(event(1, T0 + 10), 'dc1', true);
    await store.appendEvent(event(1, T0 + 20), 'dc1', false);
    await store.appendEvent(event(1, T0 + 5), 'dc1', true);
    await store.appendEvent(event(1, T0 + 10), 'dc3', true);
    expect(await store.annunciationsSince(T0 + 5)).toEqual([{ site: 'dc1', at: T0 + 10 }, { site: 'dc3', at: T0 + 10 }, { site: 'dc2', at: T0 + 30 }]);
  });

  it('stores nothing of a unit of work that fails: an alarm, its history and its audit event go together', async () => {
    const refusing: AuditRecorder = { record: () => Promise.reject(new Error('audit refused')) };
    const uow = sqlUnitOfWork(t.database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: refusing }));
    await expect(uow.run(async (s) => {
      await s.alarms.saveAlarm(alarm(1));
      await s.alarms.appendEvent(event(1, T0), 'dc1', true);
      await s.alarms.saveRule(rule('r'), T0);
      await s.alarms.saveAssetMode('dc1', 'AHU-1', 'maintenance');
      await s.audit.record({ actor: 'token:op', action: 'alarm.acknowledge', target: 'alarm:1', detail: {} });
    })).rejects.toThrow('audit refused');
    expect(await store.loadAlarms()).toEqual([]);
    expect(await store.history(1, 10)).toEqual([]);
    expect(await store.loadRules()).toEqual([]);
    expect(await store.loadAssets()).toEqual([]);
  });

  describe('handled bus messages (migration 3)', () => {
    it('knows no message before it is marked, and each one after', async () => {
      expect(await store.wasHandled('batch:dev-1:e1:1')).toBe(false);
      expect(await store.markHandled('batch:dev-1:e1:1', T0)).toBe(true);
      expect(await store.markHandled('batch:dev-1:e1:2', T0)).toBe(true);
      expect(await store.wasHandled('batch:dev-1:e1:1')).toBe(true);
      expect(await store.wasHandled('batch:dev-1:e1:2')).toBe(true);
      expect(await store.wasHandled('batch:dev-1:e1:3')).toBe(false);
      // Ids are compared exactly.
      expect(await store.wasHandled('BATCH:dev-1:e1:1')).toBe(false);
      expect(await store.wasHandled('batch:dev-1:e1:1 ')).toBe(false);
    });

    it('says false when a message is marked a second time, and keeps it marked', async () => {
      expect(await store.markHandled('batch:dev-1:e1:7', T0)).toBe(true);
      expect(await store.markHandled('batch:dev-1:e1:7', T0 + 5_000)).toBe(false);
      expect(await store.wasHandled('batch:dev-1:e1:7')).toBe(true);
      // The first time stays the one recorded: forgetting before the second keeps nothing.
      expect(await store.forgetHandledBefore(T0 + 1)).toBe(1);
      expect(await store.wasHandled('batch:dev-1:e1:7')).toBe(false);
    });

    it('keeps ids that are long, or hold colons and characters outside ASCII', async () => {
      const ids = [`batch:${'a'.repeat(64)}:${'e'.repeat(200)}:${Number.MAX_SAFE_INTEGER}`, 'birth:dév:site:AHU-1:1750000000000', "it's:\"quoted\""];
      for (const id of ids) expect(await store.markHandled(id, T0)).toBe(true);
      for (const id of ids) expect(await store.wasHandled(id)).toBe(true);
    });

    it('forgets the messages marked before a time, says how many, and keeps the rest', async () => {
      await store.markHandled('old-1', T0);
      await store.markHandled('old-2', T0 + 999);
      await store.markHandled('edge', T0 + 1_000);
      await store.markHandled('new', T0 + 2_000);
      expect(await store.forgetHandledBefore(T0 + 1_000)).toBe(2);
      expect(await store.wasHandled('old-1')).toBe(false);
      expect(await store.wasHandled('old-2')).toBe(false);
      expect(await store.wasHandled('edge')).toBe(true); // `before` itself is kept
      expect(await store.wasHandled('new')).toBe(true);
      expect(await store.forgetHandledBefore(T0 + 1_000)).toBe(0);
      // A forgotten message can be marked again (a redelivery older than the bus keeps is new).
      expect(await store.markHandled('old-1', T0 + 3_000)).toBe(true);
    });

    it('stores the mark with the alarm changes of its unit of work, and nothing of one that fails', async () => {
      const refusing: AuditRecorder = { record: () => Promise.reject(new Error('audit refused')) };
      const failing = sqlUnitOfWork(t.database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: refusing }));
      await expect(failing.run(async (s) => {
        await s.alarms.saveAlarm(alarm(1));
        await s.alarms.appendEvent(event(1, T0), 'dc1', true);
        expect(await s.alarms.markHandled('batch:dev-1:e1:1', T0)).toBe(true);
        // Seen inside its own transaction...
        expect(await s.alarms.wasHandled('batch:dev-1:e1:1')).toBe(true);
        await s.audit.record({ actor: 'system', action: 'alarm.test', target: 'alarm:1', detail: {} });
      })).rejects.toThrow('audit refused');
      // ...and gone with it.
      expect(await store.wasHandled('batch:dev-1:e1:1')).toBe(false);
      expect(await store.loadAlarms()).toEqual([]);
      expect(await store.history(1, 10)).toEqual([]);

      const working = sqlUnitOfWork(t.database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: { record: async () => ({}) as never } }));
      await working.run(async (s) => {
        await s.alarms.saveAlarm(alarm(1));
        await s.alarms.appendEvent(event(1, T0), 'dc1', true);
        expect(await s.alarms.markHandled('batch:dev-1:e1:1', T0)).toBe(true);
      });
      expect(await store.wasHandled('batch:dev-1:e1:1')).toBe(true);
      expect(await store.history(1, 10)).toHaveLength(1);
    });

    it('leaves a mark rolled back free to be made again', async () => {
      const uow = sqlUnitOfWork(t.database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: { record: async () => ({}) as never } }));
      await expect(uow.run(async (s) => {
        await s.alarms.markHandled('batch:dev-1:e1:4', T0);
        throw new Error('the evaluation failed');
      })).rejects.toThrow('the evaluation failed');
      expect(await store.markHandled('batch:dev-1:e1:4', T0 + 1)).toBe(true);
    });

    it.runIf(engine === 'postgres')('lets exactly one of two replicas marking the same message at once record it', async () => {
      const other = new SqlAlarmStore(t.reopen().db);
      for (let n = 0; n < 10; n++) {
        const id = `batch:dev-1:e1:${n}`;
        const results = await Promise.all([store.markHandled(id, T0), other.markHandled(id, T0)]);
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });
  });
});
