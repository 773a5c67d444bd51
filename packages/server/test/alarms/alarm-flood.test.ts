import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { FakeTime, OPERATOR, SITE, memoryDatabase, openEngine, sample } from './engine-fixture.ts';

let database: SqlDatabase;
let time: FakeTime;
let engine: AlarmEngine;

beforeEach(async () => {
  database = memoryDatabase();
  time = new FakeTime();
  engine = (await openEngine(database, time)).engine;
  await engine.defineRule({ id: 'ahu.sat.h', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'medium', h: 30 }, OPERATOR);
});
afterEach(async () => {
  await engine.stop();
  await database.close();
});

/** Raises the high alarm of AHU-<n> (a new annunciated alarm) one minute apart... or `stepMs`. */
function raise(n: number, stepMs = 10_000, site = SITE): void {
  time.now += stepMs;
  engine.evaluate(site, `AHU-${n}`, 'supply_air_temp', sample('supply_air_temp', 35, time.now));
  engine.tick(time.now);
}

describe('alarm flood detection', () => {
  it('raises one summary alarm per site when more than 10 alarms annunciate within 10 minutes', async () => {
    for (let n = 1; n <= 10; n++) raise(n);
    expect(engine.floodAlarm(SITE)).toBeUndefined();
    raise(11);
    const flood = engine.floodAlarm(SITE)!;
    expect(flood).toMatchObject({ state: 'unack-active', priority: 'high', ruleId: 'alarm-flood', value: 11, site: SITE });
    raise(12);
    raise(13);
    expect((await engine.history(flood.id)).map((e) => e.kind)).toEqual(['activate']);
    expect(engine.list({ site: SITE, state: 'unack-active' })).toHaveLength(14);
  });

  it('clears the summary alarm once the count in the window falls below the threshold', () => {
    for (let n = 1; n <= 11; n++) raise(n); // t = 10 s .. 110 s
    const id = engine.floodAlarm(SITE)!.id;
    // At 10 min + 20 s the first two have left the window: 9 remain.
    time.now = time.now - 110_000 + 600_000 + 10_000;
    engine.tick(time.now);
    expect(engine.get(id)!.active).toBe(true); // 10 in the window: not yet below the threshold
    time.now += 10_000;
    engine.tick(time.now);
    expect(engine.get(id)).toMatchObject({ active: false, state: 'unack-rtn', value: 9 });
  });

  it('counts only annunciated alarms and keeps sites apart', async () => {
    for (let n = 1; n <= 6; n++) raise(n, 1000, SITE);
    for (let n = 1; n <= 6; n++) raise(n, 1000, 'dc2');
    await engine.setAssetMode(SITE, 'AHU-7', 'maintenance', OPERATOR);
    for (let n = 7; n <= 11; n++) raise(n, 1000, SITE);
    // 11 new alarms at dc1, but AHU-7 is suppressed: 10 annunciated, and dc2's do not count.
    expect(engine.floodAlarm(SITE)).toBeUndefined();
    expect(engine.floodAlarm('dc2')).toBeUndefined();
    raise(12, 1000, SITE);
    expect(engine.floodAlarm(SITE)!.active).toBe(true);
  });

  it('stores the flood alarm\'s activation after the change that raised it', async () => {
    for (let n = 1; n <= 11; n++) raise(n);
    const flood = engine.floodAlarm(SITE)!;
    const eleventh = engine.find(SITE, 'AHU-11', 'supply_air_temp', 'ahu.sat.h', 'h')!;
    const [floodEvent] = await engine.history(flood.id);
    const [raised] = await engine.history(eleventh.id);
    expect(floodEvent!.seq).toBeGreaterThan(raised!.seq);
  });
});
