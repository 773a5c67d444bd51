import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { SqlAlarmStore } from '../../src/alarms/sql-alarm-store.ts';
import { AlarmError } from '../../src/alarms/alarm-error.ts';
import { ALARM_STATES, nextAlarmState, type AlarmState, type ConditionEvent } from '../../src/alarms/alarm-state.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { AHU, FakeTime, OPERATOR, SITE, memoryDatabase, openEngine, sample } from './engine-fixture.ts';

describe('nextAlarmState (ISA-18.2 / OPC UA Part 9)', () => {
  const table: [AlarmState, ConditionEvent, AlarmState | 'refused'][] = [
    ['normal', 'activate', 'unack-active'],
    ['normal', 'clear', 'normal'],
    ['normal', 'acknowledge', 'refused'],
    ['unack-active', 'activate', 'unack-active'],
    ['unack-active', 'acknowledge', 'ack-active'],
    ['unack-active', 'clear', 'unack-rtn'],
    ['ack-active', 'activate', 'ack-active'],
    ['ack-active', 'acknowledge', 'refused'],
    ['ack-active', 'clear', 'normal'],
    ['unack-rtn', 'activate', 'unack-active'],
    ['unack-rtn', 'acknowledge', 'normal'],
    ['unack-rtn', 'clear', 'unack-rtn'],
  ];

  it('covers every state and event', () => {
    expect(new Set(table.map(([s, e]) => `${s}/${e}`)).size).toBe(ALARM_STATES.length * 3);
  });

  it.each(table)('%s + %s -> %s', (state, event, expected) => {
    if (expected === 'refused') {
      expect(() => nextAlarmState(state, event)).toThrow(AlarmError);
      try {
        nextAlarmState(state, event);
      } catch (err) {
        expect((err as AlarmError).code).toBe('alarm_not_unacknowledged');
      }
    } else {
      expect(nextAlarmState(state, event)).toBe(expected);
    }
  });
});

type Step = 'high' | 'low' | 'ack' | 'shelve' | 'unshelve' | 'oos' | 'rts' | 'maintenance' | 'normal-mode';
interface Expect { state: AlarmState; annunciated: boolean }

describe('AlarmEngine state transitions', () => {
  let database: SqlDatabase;
  let time: FakeTime;
  let engine: AlarmEngine;
  let audit: Awaited<ReturnType<typeof openEngine>>['audit'];
  let ts: number;

  beforeEach(async () => {
    database = memoryDatabase();
    time = new FakeTime();
    ({ engine, audit } = await openEngine(database, time));
    await engine.defineRule({ id: 'ahu.sat.high', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30 }, OPERATOR);
    ts = time.now;
  });
  afterEach(async () => {
    await engine.stop();
    await database.close();
  });

  const alarmId = () => engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.high', 'h')!.id;
  async function run(step: Step): Promise<void> {
    time.now += 1000;
    ts = time.now;
    switch (step) {
      case 'high': return engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 35, ts));
      case 'low': return engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 20, ts));
      case 'ack': await engine.acknowledge(alarmId(), OPERATOR, 'seen'); return;
      case 'shelve': await engine.shelve(alarmId(), OPERATOR, { kind: 'timed', durationMs: 3_600_000, comment: 'nuisance' }); return;
      case 'unshelve': await engine.unshelve(alarmId(), OPERATOR, 'back'); return;
      case 'oos': await engine.removeFromService(alarmId(), OPERATOR, 'sensor broken'); return;
      case 'rts': await engine.returnToService(alarmId(), OPERATOR, 'sensor replaced'); return;
      case 'maintenance': return engine.setAssetMode(SITE, AHU, 'maintenance', OPERATOR, 'filter change');
      case 'normal-mode': return engine.setAssetMode(SITE, AHU, 'normal', OPERATOR, 'done');
    }
  }

  const N = (state: AlarmState, annunciated = true): Expect => ({ state, annunciated });
  const scenarios: [string, [Step, Expect][]][] = [
    ['normal -> unack-active -> ack-active -> normal', [['low', N('normal')], ['high', N('unack-active')], ['ack', N('ack-active')], ['low', N('normal')]]],
    ['unack-active -> unack-rtn -> normal (ack)', [['high', N('unack-active')], ['low', N('unack-rtn')], ['ack', N('normal')]]],
    ['unack-rtn -> unack-active (returns before ack)', [['high', N('unack-active')], ['low', N('unack-rtn')], ['high', N('unack-active')]]],
    ['ack-active stays ack-active on more high samples', [['high', N('unack-active')], ['ack', N('ack-active')], ['high', N('ack-active')]]],
    ['shelved active alarm clears silently and unshelves to normal', [
      ['high', N('unack-active')], ['shelve', N('unack-active', false)], ['low', N('unack-rtn', false)], ['unshelve', N('normal')]]],
    ['shelved alarm still active on unshelve re-annunciates unacknowledged', [
      ['high', N('unack-active')], ['ack', N('ack-active')], ['shelve', N('ack-active', false)], ['unshelve', N('unack-active')]]],
    ['shelved normal alarm tracks a new activation silently', [['shelve', N('normal', false)], ['high', N('unack-active', false)], ['unshelve', N('unack-active')]]],
    ['out of service tracks the condition and returns re-evaluated', [
      ['oos', N('normal', false)], ['high', N('unack-active', false)], ['low', N('unack-rtn', false)], ['rts', N('normal')]]],
    ['out of service while active returns active and unacknowledged', [['high', N('unack-active')], ['ack', N('ack-active')], ['oos', N('ack-active', false)], ['rts', N('unack-active')]]],
    ['suppressed by design (maintenance) and back', [
      ['maintenance', N('normal', false)], ['high', N('unack-active', false)], ['normal-mode', N('unack-active')], ['ack', N('ack-active')]]],
    ['suppression ending after the condition cleared returns to normal', [
      ['high', N('unack-active')], ['maintenance', N('unack-active', false)], ['low', N('unack-rtn', false)], ['normal-mode', N('normal')]]],
    ['several silencing causes: annunciates only when all have ended', [
      ['high', N('unack-active')], ['shelve', N('unack-active', false)], ['oos', N('unack-active', false)],
      ['unshelve', N('unack-active', false)], ['rts', N('unack-active')]]],
    ['acknowledging while shelved is allowed', [['high', N('unack-active')], ['shelve', N('unack-active', false)], ['ack', N('ack-active', false)]]],
  ];

  it.each(scenarios)('%s', async (_name, steps) => {
    await run('low'); // binds the asset and creates the alarm
    for (const [step, expected] of steps) {
      await run(step);
      const a = engine.get(alarmId())!;
      expect({ step, state: a.state, annunciated: a.annunciated }).toEqual({ step, ...expected });
      expect(a.active).toBe(a.state === 'unack-active' || a.state === 'ack-active');
      expect(a.acknowledged).toBe(a.state === 'normal' || a.state === 'ack-active');
    }
  });

  it('refuses to acknowledge an alarm that needs no acknowledgement', async () => {
    await run('high');
    await run('ack');
    await expect(run('ack')).rejects.toMatchObject({ code: 'alarm_not_unacknowledged' });
  });

  it('records who acted, when and why in the history and the audit log', async () => {
    for (const step of ['high', 'ack', 'shelve', 'unshelve', 'oos', 'rts', 'maintenance'] as const) await run(step);
    const history = await engine.history(alarmId());
    expect(history.map((e) => [e.kind, e.actor])).toEqual([
      ['activate', 'system'], ['acknowledge', OPERATOR], ['shelve', OPERATOR], ['unshelve', OPERATOR],
      ['remove-from-service', OPERATOR], ['return-to-service', OPERATOR], ['suppress', OPERATOR],
    ]);
    expect(history[1]).toMatchObject({ comment: 'seen', state: 'ack-active', at: history[0]!.at + 1000 });
    const recorded = (await audit.list({ limit: 100 })).map((e) => [e.action, e.actor, e.target]);
    const id = alarmId();
    expect(recorded).toEqual(expect.arrayContaining([
      ['alarm.acknowledge', OPERATOR, `alarm:${id}`], ['alarm.shelve', OPERATOR, `alarm:${id}`], ['alarm.unshelve', OPERATOR, `alarm:${id}`],
      ['alarm.remove_from_service', OPERATOR, `alarm:${id}`], ['alarm.return_to_service', OPERATOR, `alarm:${id}`],
      ['alarm.suppress', OPERATOR, `asset:${SITE}/${AHU}`],
    ]));
  });

  it('refuses operator actions without a named actor', async () => {
    await run('high');
    await expect(engine.acknowledge(alarmId(), ' ', '')).rejects.toMatchObject({ code: 'actor_required' });
  });

  it('refuses actions on an unknown alarm', async () => {
    await expect(engine.acknowledge(9999, OPERATOR)).rejects.toMatchObject({ code: 'alarm_not_found' });
  });

  it('commits an operator action with its audit event, or neither', async () => {
    await run('high');
    await engine.settled();
    // A second engine on the database (a restart) whose audit recorder refuses every event.
    const failures: { attempt: number; final: boolean }[] = [];
    const failing = await openEngine(database, time, {
      unitOfWork: sqlUnitOfWork(database, (tx) => ({
        alarms: new SqlAlarmStore(tx), audit: { record: () => Promise.reject(new Error('audit refused')) },
      })),
      onPersistError: (_err, f) => failures.push({ attempt: f.attempt, final: f.final }),
    });
    const id = failing.engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.high', 'h')!.id;
    const acked = failing.engine.acknowledge(id, OPERATOR, 'seen');
    acked.catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([{ attempt: 1, final: false }]); // retried after a backoff...
    await failing.engine.stop(); // ...but stopping tries once more and then gives up
    await expect(acked).rejects.toThrow('audit refused');
    expect(failures).toEqual([{ attempt: 1, final: false }, { attempt: 2, final: true }]);
    expect(await audit.list({ actionPrefix: 'alarm.acknowledge' })).toEqual([]);
    expect((await engine.history(id)).map((e) => e.kind)).toEqual(['activate']);
  });
});
