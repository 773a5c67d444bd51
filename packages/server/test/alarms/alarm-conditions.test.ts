import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Quality } from '@shellguard/protocol';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { AHU, FakeTime, GEN, OPERATOR, SITE, memoryDatabase, openEngine, sample } from './engine-fixture.ts';

let database: SqlDatabase;
let time: FakeTime;
let engine: AlarmEngine;
let audit: Awaited<ReturnType<typeof openEngine>>['audit'];

beforeEach(async () => {
  database = memoryDatabase();
  time = new FakeTime();
  ({ engine, audit } = await openEngine(database, time));
});
afterEach(async () => {
  await engine.stop();
  await database.close();
});

/** Feeds one sample per second of `values` to a point, advancing fake time. */
function feed(asset: string, point: string, values: (number | boolean)[], stepMs = 1000): void {
  for (const v of values) {
    time.now += stepMs;
    engine.evaluate(SITE, asset, point, sample(point, v, time.now));
    engine.tick(time.now);
  }
}

describe('limit rules', () => {
  beforeEach(async () => {
    await engine.defineRule({
      id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'medium',
      hh: 35, h: 30, l: 12, ll: 8, deadband: 1, levelPriority: { hh: 'critical', ll: 'critical' },
    }, OPERATOR);
  });
  const level = (l: 'hh' | 'h' | 'l' | 'll') => engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat', l)!;

  it('makes one alarm per level, each with its priority', async () => {
    feed(AHU, 'supply_air_temp', [20]);
    expect(engine.list({ site: SITE }).map((a) => [a.level, a.priority])).toEqual(
      expect.arrayContaining([['hh', 'critical'], ['h', 'medium'], ['l', 'medium'], ['ll', 'critical']]));
    expect(engine.list({ priority: 'critical' })).toHaveLength(2);
  });

  it('activates at the limit and HH on top of H', async () => {
    feed(AHU, 'supply_air_temp', [30]);
    expect(level('h').active).toBe(true);
    expect(level('hh').active).toBe(false);
    feed(AHU, 'supply_air_temp', [36]);
    expect(level('hh').state).toBe('unack-active');
    expect(level('h').active).toBe(true);
  });

  it('does not chatter inside the deadband and clears past it', async () => {
    feed(AHU, 'supply_air_temp', [30.2, 29.5, 30.1, 29.2, 30.0, 29.01]);
    expect((await engine.history(level('h').id)).map((e) => e.kind)).toEqual(['activate']);
    feed(AHU, 'supply_air_temp', [28.9]);
    expect(level('h').active).toBe(false);
    expect((await engine.history(level('h').id)).map((e) => e.kind)).toEqual(['activate', 'clear']);
  });

  it('applies the deadband to low limits upwards', async () => {
    feed(AHU, 'supply_air_temp', [12, 12.8, 13.01]);
    expect((await engine.history(level('l').id)).map((e) => e.kind)).toEqual(['activate', 'clear']);
  });

  it('ignores samples of bad quality and samples older than the last one', async () => {
    feed(AHU, 'supply_air_temp', [20]);
    time.now += 1000;
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 99, time.now, Quality.bad));
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 99, time.now - 5000));
    expect(level('hh').active).toBe(false);
  });

  it('uses an asset override instead of the profile rule, and drops the override again', async () => {
    await engine.overrideRule(SITE, 'AHU-2', 'ahu.sat', { h: 25, hh: null }, OPERATOR);
    feed('AHU-2', 'supply_air_temp', [26]);
    feed(AHU, 'supply_air_temp', [26]);
    expect(engine.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'h')!.active).toBe(true);
    expect(engine.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'hh')).toBeUndefined();
    expect(level('h').active).toBe(false);
    expect(engine.effectiveRules(SITE, 'AHU-2')[0]).toMatchObject({ h: 25 });
    expect(await engine.removeOverride(SITE, 'AHU-2', 'ahu.sat', OPERATOR)).toBe(true);
    feed('AHU-2', 'supply_air_temp', [26]);
    expect(engine.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'h')!.active).toBe(false);
  });

  it('retires the alarms of a rule disabled for one asset', async () => {
    feed(AHU, 'supply_air_temp', [31]);
    await engine.overrideRule(SITE, AHU, 'ahu.sat', { enabled: false }, OPERATOR);
    expect(level('h')).toMatchObject({ retired: true, active: false, state: 'normal' });
    expect(engine.list({ site: SITE })).toHaveLength(0);
    feed(AHU, 'supply_air_temp', [40]);
    expect(level('hh').active).toBe(false);
  });

  it('refuses an override that changes identity or makes an invalid rule', async () => {
    await expect(engine.overrideRule(SITE, AHU, 'ahu.sat', { point: 'return_air_temp' }, OPERATOR)).rejects.toMatchObject({ code: 'rule_invalid', message: expect.stringContaining('point: cannot be overridden') });
    await expect(engine.overrideRule(SITE, AHU, 'ahu.sat', { h: 40 }, OPERATOR)).rejects.toMatchObject({ code: 'rule_invalid', message: expect.stringContaining('h: must be below hh') });
    await expect(engine.overrideRule(SITE, AHU, 'nope', { h: 40 }, OPERATOR)).rejects.toMatchObject({ code: 'rule_not_found' });
  });
});

describe('on-delay and off-delay', () => {
  beforeEach(async () => {
    await engine.defineRule({
      id: 'ahu.sat.h', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30,
      onDelayMs: 10_000, offDelayMs: 5_000,
    }, OPERATOR);
  });
  const alarm = () => engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.h', 'h')!;

  it('activates only when the condition lasted the on-delay', async () => {
    feed(AHU, 'supply_air_temp', [31]);
    expect(alarm()).toMatchObject({ active: false, pending: { to: 'active', deadline: time.now + 10_000 } });
    feed(AHU, 'supply_air_temp', Array<number>(8).fill(31));
    expect(alarm().active).toBe(false);
    feed(AHU, 'supply_air_temp', [31, 31]);
    expect(alarm()).toMatchObject({ active: true, pending: null });
  });

  it('activates on the tick when no further sample arrives', async () => {
    feed(AHU, 'supply_air_temp', [31]);
    time.now += 9_999;
    engine.tick(time.now);
    expect(alarm().active).toBe(false);
    time.now += 1;
    engine.tick(time.now);
    expect(alarm().active).toBe(true);
  });

  it('cancels the on-delay when the condition goes away before it ran out', async () => {
    feed(AHU, 'supply_air_temp', [31, 31, 31, 29, 31]);
    time.now += 9_000;
    engine.tick(time.now);
    expect(alarm().active).toBe(false);
    expect(await engine.history(alarm().id)).toEqual([]);
  });

  it('clears only after the off-delay', async () => {
    feed(AHU, 'supply_air_temp', [31]);
    time.now += 10_000;
    engine.tick(time.now);
    feed(AHU, 'supply_air_temp', [29, 31, 29, 29, 29, 29]);
    expect(alarm().active).toBe(true);
    feed(AHU, 'supply_air_temp', [29]);
    expect(alarm()).toMatchObject({ active: true, pending: { to: 'cleared', deadline: time.now + 1000 } });
    feed(AHU, 'supply_air_temp', [29]);
    expect(alarm().active).toBe(false);
    expect((await engine.history(alarm().id)).map((e) => e.kind)).toEqual(['activate', 'clear']);
  });
});

describe('rate of change', () => {
  beforeEach(async () => {
    await engine.defineRule({
      id: 'gen.oil.roc', kind: 'rate-of-change', profile: 'gen-test', point: 'oil_temp', priority: 'high',
      ratePerMinute: 5, windowMs: 60_000, direction: 'rising', deadband: 1,
    }, OPERATOR);
  });
  const alarm = () => engine.find(SITE, GEN, 'oil_temp', 'gen.oil.roc')!;

  it('activates when the value rises faster than the rate over the window', async () => {
    // 4 units per minute: no alarm.
    feed(GEN, 'oil_temp', Array.from({ length: 30 }, (_, i) => 80 + (i * 4) / 60));
    expect(alarm().active).toBe(false);
    // 6 units per minute for a full window: alarm.
    const base = 82;
    feed(GEN, 'oil_temp', Array.from({ length: 61 }, (_, i) => base + (i * 6) / 60));
    expect(alarm().active).toBe(true);
  });

  it('ignores a falling value when the rule watches rising, and clears below rate minus deadband', async () => {
    feed(GEN, 'oil_temp', Array.from({ length: 61 }, (_, i) => 90 - (i * 10) / 60));
    expect(alarm().active).toBe(false);
    feed(GEN, 'oil_temp', Array.from({ length: 61 }, (_, i) => 80 + (i * 10) / 60));
    expect(alarm().active).toBe(true);
    // 4.5/min is below 5 but within the deadband: still active; flat: clears.
    feed(GEN, 'oil_temp', Array.from({ length: 61 }, (_, i) => 90 + (i * 4.5) / 60));
    expect(alarm().active).toBe(true);
    feed(GEN, 'oil_temp', Array<number>(61).fill(95));
    expect(alarm().active).toBe(false);
  });
});

describe('stale data', () => {
  beforeEach(async () => {
    await engine.defineRule({ id: 'ahu.comm', kind: 'stale', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', timeoutMs: 30_000 }, OPERATOR);
  });
  const alarm = () => engine.find(SITE, AHU, 'supply_air_temp', 'ahu.comm')!;

  it('activates on the tick when no good sample arrived for the timeout, and clears on the next good one', async () => {
    feed(AHU, 'supply_air_temp', [20]);
    time.now += 29_999;
    engine.tick(time.now);
    expect(alarm().active).toBe(false);
    // Bad-quality samples do not count as data.
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', null, time.now, Quality.bad));
    time.now += 1;
    engine.tick(time.now);
    expect(alarm().state).toBe('unack-active');
    feed(AHU, 'supply_air_temp', [21]);
    expect(alarm().state).toBe('unack-rtn');
  });

  it('watches an asset told about before any sample arrived', async () => {
    engine.setAssetProfile(SITE, 'AHU-9', 'ahu-test');
    time.now += 30_000;
    engine.tick(time.now);
    expect(engine.find(SITE, 'AHU-9', 'supply_air_temp', 'ahu.comm')!.active).toBe(true);
  });

  it('is ticked by start() on the clock', async () => {
    feed(AHU, 'supply_air_temp', [20]);
    await engine.start();
    time.advance(31_000);
    expect(alarm().active).toBe(true);
    await engine.stop();
    expect(time.pendingTimers()).toBe(0);
  });
});

describe('binary and anomaly rules', () => {
  it('alarms while a binary point has the alarm state', async () => {
    await engine.defineRule({ id: 'gen.fail', kind: 'binary', profile: 'gen-test', point: 'common_fault', priority: 'critical', alarmWhen: true }, OPERATOR);
    await engine.defineRule({ id: 'gen.ready', kind: 'binary', profile: 'gen-test', point: 'auto_ready', priority: 'high', alarmWhen: false }, OPERATOR);
    feed(GEN, 'common_fault', [false]);
    feed(GEN, 'auto_ready', [true]);
    expect(engine.list({ state: 'unack-active' })).toHaveLength(0);
    feed(GEN, 'common_fault', [true]);
    feed(GEN, 'auto_ready', [0]);
    expect(engine.list({ state: 'unack-active' }).map((a) => a.ruleId)).toEqual(['gen.fail', 'gen.ready']);
    feed(GEN, 'common_fault', [false]);
    expect(engine.find(SITE, GEN, 'common_fault', 'gen.fail')!.state).toBe('unack-rtn');
  });

  it('alarms when the anomaly score stays at or above the threshold for the on-delay', async () => {
    await engine.defineRule({
      id: 'gen.vib.anomaly', kind: 'anomaly', profile: 'gen-test', point: 'vibration', priority: 'medium',
      threshold: 0.8, onDelayMs: 60_000, deadband: 0.1,
    }, OPERATOR);
    const score = (s: number) => {
      time.now += 10_000;
      engine.evaluateScore(SITE, GEN, 'vibration', time.now, s);
      engine.tick(time.now);
    };
    // Raw samples never drive an anomaly rule.
    feed(GEN, 'vibration', [0.99]);
    score(0.9);
    score(0.95);
    score(0.5); // a dip cancels the on-delay
    for (let i = 0; i < 6; i++) score(0.85);
    const alarm = () => engine.find(SITE, GEN, 'vibration', 'gen.vib.anomaly')!;
    expect(alarm().active).toBe(false);
    score(0.85);
    expect(alarm()).toMatchObject({ active: true, value: 0.85 });
    score(0.75);
    expect(alarm().active).toBe(true);
    score(0.69);
    expect(alarm().active).toBe(false);
  });
});

describe('shelving', () => {
  beforeEach(async () => {
    await engine.defineRule({
      id: 'ahu.sat.h', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30, maxShelveMs: 3_600_000,
    }, OPERATOR);
    feed(AHU, 'supply_air_temp', [31]);
  });
  const alarm = () => engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.h', 'h')!;

  it('one-shot: silences until the alarm clears, then the alarm is normal and annunciates again', async () => {
    await engine.shelve(alarm().id, OPERATOR, { kind: 'one-shot', comment: 'known, tech on site' });
    expect(alarm()).toMatchObject({ annunciated: false, shelved: { kind: 'one-shot', by: OPERATOR, until: time.now + 3_600_000 } });
    feed(AHU, 'supply_air_temp', [29]);
    expect(alarm()).toMatchObject({ shelved: null, annunciated: true, state: 'normal' });
    feed(AHU, 'supply_air_temp', [31]);
    expect(alarm()).toMatchObject({ state: 'unack-active', annunciated: true });
    expect((await engine.history(alarm().id)).map((e) => [e.kind, e.actor])).toEqual([
      ['activate', 'system'], ['shelve', OPERATOR], ['clear', 'system'], ['unshelve', 'system'], ['activate', 'system'],
    ]);
  });

  it('one-shot: refuses an alarm that is not active, and ends at the maximum at the latest', async () => {
    feed(AHU, 'supply_air_temp', [29]);
    await expect(engine.shelve(alarm().id, OPERATOR, { kind: 'one-shot' })).rejects.toMatchObject({ code: 'alarm_not_active' });
    feed(AHU, 'supply_air_temp', [31]);
    await engine.shelve(alarm().id, OPERATOR, { kind: 'one-shot' });
    time.now += 3_600_000;
    engine.tick(time.now);
    expect(alarm()).toMatchObject({ shelved: null, state: 'unack-active', annunciated: true });
  });

  it('timed: expires on the tick at the requested time and re-evaluates', async () => {
    await engine.acknowledge(alarm().id, OPERATOR);
    await engine.shelve(alarm().id, OPERATOR, { kind: 'timed', durationMs: 600_000, comment: 'calibration' });
    time.now += 599_999;
    engine.tick(time.now);
    expect(alarm().annunciated).toBe(false);
    time.now += 1;
    engine.tick(time.now);
    expect(alarm()).toMatchObject({ shelved: null, annunciated: true, state: 'unack-active' });
    const last = (await engine.history(alarm().id)).at(-1)!;
    expect(last).toMatchObject({ kind: 'unshelve', actor: 'system', comment: 'timed shelving expired' });
  });

  it('timed: enforces the maximum shelving time and needs a duration', async () => {
    await expect(engine.shelve(alarm().id, OPERATOR, { kind: 'timed', durationMs: 3_600_001 })).rejects.toMatchObject({ code: 'shelve_too_long', details: { maxShelveMs: 3_600_000, durationMs: 3_600_001 } });
    await expect(engine.shelve(alarm().id, OPERATOR, { kind: 'timed' })).rejects.toMatchObject({ code: 'shelve_duration_invalid' });
    await expect(engine.shelve(alarm().id, OPERATOR, { kind: 'timed', durationMs: -5 })).rejects.toMatchObject({ code: 'shelve_duration_invalid' });
    await engine.shelve(alarm().id, OPERATOR, { kind: 'timed', durationMs: 3_600_000 });
    await expect(engine.shelve(alarm().id, OPERATOR, { kind: 'timed', durationMs: 1000 })).rejects.toMatchObject({ code: 'alarm_already_shelved' });
    await engine.unshelve(alarm().id, OPERATOR);
    await expect(engine.unshelve(alarm().id, OPERATOR)).rejects.toMatchObject({ code: 'alarm_not_shelved' });
  });

  it('lists shelved, suppressed and out-of-service alarms', async () => {
    await engine.shelve(alarm().id, OPERATOR, { kind: 'timed', durationMs: 1000 });
    expect(engine.list({ state: 'shelved' }).map((a) => a.id)).toEqual([alarm().id]);
    await engine.removeFromService(alarm().id, OPERATOR, 'x');
    expect(engine.list({ state: 'out-of-service' })).toHaveLength(1);
    await expect(engine.removeFromService(alarm().id, OPERATOR)).rejects.toMatchObject({ code: 'alarm_already_out_of_service' });
    await engine.setAssetMode(SITE, AHU, 'maintenance', OPERATOR);
    expect(engine.list({ state: 'suppressed' })).toHaveLength(1);
    expect(engine.assetMode(SITE, AHU)).toBe('maintenance');
  });
});

describe('suppression by design', () => {
  it('creates alarms of an asset already in maintenance suppressed', async () => {
    await engine.defineRule({ id: 'ahu.sat.h', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30 }, OPERATOR);
    await engine.setAssetMode(SITE, AHU, 'maintenance', OPERATOR, 'PM');
    feed(AHU, 'supply_air_temp', [31]);
    const a = engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.h', 'h')!;
    expect(a).toMatchObject({ suppressed: true, annunciated: false, active: true });
    await engine.setAssetMode(SITE, AHU, 'normal', OPERATOR);
    expect(engine.get(a.id)).toMatchObject({ suppressed: false, annunciated: true, state: 'unack-active' });
  });

  it('suppresses exactly the points a work order expects to change, and nothing else on the asset', async () => {
    await engine.defineRule({ id: 'ahu.sat.h', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30 }, OPERATOR);
    await engine.defineRule({ id: 'ahu.rat.h', kind: 'limit', profile: 'ahu-test', point: 'return_air_temp', priority: 'high', h: 30 }, OPERATOR);
    await engine.setDesignSuppression('workorder:7', [{ site: SITE, asset: AHU, point: 'supply_air_temp' }], OPERATOR);
    feed(AHU, 'supply_air_temp', [31]);
    feed(AHU, 'return_air_temp', [31]);
    const sat = engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat.h', 'h')!;
    const rat = engine.find(SITE, AHU, 'return_air_temp', 'ahu.rat.h', 'h')!;
    expect(sat).toMatchObject({ suppressed: true, annunciated: false, active: true });
    expect(rat).toMatchObject({ suppressed: false, annunciated: true, state: 'unack-active' });
    // Another owner's suppression and maintenance mode combine; lifting one leaves the other.
    await engine.setDesignSuppression('workorder:8', [{ site: SITE, asset: AHU, point: 'supply_air_temp' }], OPERATOR);
    await engine.setDesignSuppression('workorder:7', [], OPERATOR);
    expect(engine.get(sat.id)).toMatchObject({ suppressed: true });
    await engine.setDesignSuppression('workorder:8', [], OPERATOR);
    expect(engine.get(sat.id)).toMatchObject({ suppressed: false, annunciated: true, state: 'unack-active' });
    expect((await audit.list({ actionPrefix: 'alarm.suppress.design' })).map((e) => e.target)).toEqual(['workorder:7', 'workorder:8']);
  });
});
