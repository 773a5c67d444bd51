import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { AHU, FakeTime, GEN, OPERATOR, SITE, openEngine, sample } from './engine-fixture.ts';

let dir: string;
let file: string;
let db: SqliteDatabase;
let time: FakeTime;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-alarms-'));
  file = path.join(dir, 'server.db');
  db = openDatabase(file);
  time = new FakeTime();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Closes the database and starts a new engine on the same file: a server restart. */
function restart(): AlarmEngine {
  db.close();
  db = openDatabase(file);
  return openEngine(db, time).engine;
}

function define(engine: AlarmEngine): void {
  engine.defineRule({ id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30, hh: 40, onDelayMs: 60_000 }, OPERATOR);
  engine.defineRule({ id: 'gen.fault', kind: 'binary', profile: 'gen-test', point: 'common_fault', priority: 'critical' }, OPERATOR);
  engine.defineRule({ id: 'gen.comm', kind: 'stale', profile: 'gen-test', point: 'common_fault', priority: 'high', timeoutMs: 120_000 }, OPERATOR);
}

describe('alarm state across a restart', () => {
  it('keeps every alarm state, shelving, out of service, maintenance, overrides and history', () => {
    const engine = openEngine(db, time).engine;
    define(engine);
    engine.overrideRule(SITE, 'AHU-2', 'ahu.sat', { h: 25, onDelayMs: 0 }, OPERATOR);
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', true, time.now));
    engine.evaluate(SITE, 'AHU-2', 'supply_air_temp', sample('supply_air_temp', 26, time.now));
    const gen = engine.find(SITE, GEN, 'common_fault', 'gen.fault')!;
    const ahu2 = engine.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'h')!;
    engine.acknowledge(gen.id, OPERATOR, 'crew dispatched');
    engine.shelve(ahu2.id, OPERATOR, { kind: 'timed', durationMs: 600_000, comment: 'tuning' });
    const hh2 = engine.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'hh')!;
    engine.removeFromService(hh2.id, OPERATOR, 'transmitter failed');
    engine.setAssetMode(SITE, AHU, 'maintenance', OPERATOR, 'PM');
    const before = engine.list({ includeRetired: true });
    const historyBefore = engine.history(gen.id);

    const after = restart();
    // The last value is kept in memory between changes; a restart keeps the one of the last change.
    const withoutValue = (list: typeof before) => list.map(({ value: _v, ...rest }) => rest);
    expect(withoutValue(after.list({ includeRetired: true }))).toEqual(withoutValue(before));
    expect(after.get(gen.id)!.value).toBe(true);
    expect(after.history(gen.id)).toEqual(historyBefore);
    expect(after.rules().map((r) => r.id)).toEqual(['ahu.sat', 'gen.comm', 'gen.fault']);
    expect(after.ruleOverrides()).toEqual([{ site: SITE, asset: 'AHU-2', ruleId: 'ahu.sat', patch: { h: 25, onDelayMs: 0 } }]);
    expect(after.assetMode(SITE, AHU)).toBe('maintenance');
    // The override still applies after the restart.
    time.now += 1000;
    after.evaluate(SITE, 'AHU-2', 'supply_air_temp', sample('supply_air_temp', 24, time.now));
    expect(after.get(ahu2.id)).toMatchObject({ active: false, state: 'unack-rtn', annunciated: false });
  });

  it('resumes an on-delay from its persisted deadline', () => {
    const engine = openEngine(db, time).engine;
    define(engine);
    time.now += 1000;
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 31, time.now));
    const id = engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat', 'h')!.id;
    const deadline = time.now + 60_000;
    time.now += 30_000;
    const after = restart();
    after.tick(time.now);
    expect(after.get(id)).toMatchObject({ active: false, pending: { to: 'active', deadline } });
    time.now = deadline;
    after.tick(time.now);
    expect(after.get(id)).toMatchObject({ active: true, state: 'unack-active', activeSince: deadline, pending: null });
  });

  it('expires timed shelving at its persisted time after a restart', () => {
    const engine = openEngine(db, time).engine;
    define(engine);
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', true, time.now));
    const id = engine.find(SITE, GEN, 'common_fault', 'gen.fault')!.id;
    engine.shelve(id, OPERATOR, { kind: 'timed', durationMs: 300_000 });
    const until = time.now + 300_000;
    time.now += 100_000;
    const after = restart();
    after.start();
    time.advance(until - time.now - 1);
    expect(after.get(id)!.shelved).not.toBeNull();
    time.advance(1_000);
    expect(after.get(id)).toMatchObject({ shelved: null, annunciated: true, state: 'unack-active' });
    after.stop();
  });

  it('gives stale-data rules a full timeout after a restart, then raises them', () => {
    const engine = openEngine(db, time).engine;
    define(engine);
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', false, time.now));
    const id = engine.find(SITE, GEN, 'common_fault', 'gen.comm')!.id;
    time.now += 110_000;
    const after = restart();
    time.now += 119_000;
    after.tick(time.now);
    expect(after.get(id)!.active).toBe(false);
    time.now += 1000;
    after.tick(time.now);
    expect(after.get(id)!.active).toBe(true);
  });

  it('restores the flood window and the flood alarm', () => {
    const engine = openEngine(db, time, { flood: { threshold: 2 } }).engine;
    define(engine);
    for (let n = 1; n <= 3; n++) {
      time.now += 1000;
      engine.evaluate(SITE, `AHU-${n}`, 'supply_air_temp', sample('supply_air_temp', 45, time.now));
    }
    time.now += 60_000; // the on-delay
    engine.tick(time.now);
    expect(engine.floodAlarm(SITE)!.active).toBe(true);
    db.close();
    db = openDatabase(file);
    const after = openEngine(db, time, { flood: { threshold: 2 } }).engine;
    expect(after.floodAlarm(SITE)!.active).toBe(true);
    time.now += 599_999;
    after.tick(time.now);
    expect(after.floodAlarm(SITE)!.active).toBe(true);
    time.now += 1;
    after.tick(time.now);
    expect(after.floodAlarm(SITE)!.active).toBe(false);
  });
});
