import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { SqlAlarmStore } from '../../src/alarms/sql-alarm-store.ts';
import { AHU, FakeTime, GEN, OPERATOR, SITE, openEngine, sample } from './engine-fixture.ts';

let dir: string;
let file: string;
let database: SqlDatabase;
let time: FakeTime;
/** Every engine opened, stopped after each test. */
let engines: AlarmEngine[];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-alarms-'));
  file = path.join(dir, 'server.db');
  database = openSqliteSqlDatabase(file);
  time = new FakeTime();
  engines = [];
});
afterEach(async () => {
  for (const e of engines) await e.stop();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(extra: Parameters<typeof openEngine>[2] = {}): Promise<AlarmEngine> {
  const { engine } = await openEngine(database, time, extra);
  engines.push(engine);
  return engine;
}

/** Stops the engine (storing what it changed), closes the database and starts a new engine on the file: a server restart. */
async function restart(engine: AlarmEngine, extra: Parameters<typeof openEngine>[2] = {}): Promise<AlarmEngine> {
  await engine.stop();
  await database.close();
  database = openSqliteSqlDatabase(file);
  return open(extra);
}

async function define(engine: AlarmEngine): Promise<void> {
  await engine.defineRule({ id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'high', h: 30, hh: 40, onDelayMs: 60_000 }, OPERATOR);
  await engine.defineRule({ id: 'gen.fault', kind: 'binary', profile: 'gen-test', point: 'common_fault', priority: 'critical' }, OPERATOR);
  await engine.defineRule({ id: 'gen.comm', kind: 'stale', profile: 'gen-test', point: 'common_fault', priority: 'high', timeoutMs: 120_000 }, OPERATOR);
}

describe('alarm state across a restart', () => {
  it('keeps every alarm state, shelving, out of service, maintenance, overrides and history', async () => {
    const engine = await open();
    await define(engine);
    await engine.overrideRule(SITE, 'AHU-2', 'ahu.sat', { h: 25, onDelayMs: 0 }, OPERATOR);
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', true, time.now));
    engine.evaluate(SITE, 'AHU-2', 'supply_air_temp', sample('supply_air_temp', 26, time.now));
    const gen = engine.find(SITE, GEN, 'common_fault', 'gen.fault')!;
    const ahu2 = engine.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'h')!;
    await engine.acknowledge(gen.id, OPERATOR, 'crew dispatched');
    await engine.shelve(ahu2.id, OPERATOR, { kind: 'timed', durationMs: 600_000, comment: 'tuning' });
    const hh2 = engine.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'hh')!;
    await engine.removeFromService(hh2.id, OPERATOR, 'transmitter failed');
    await engine.setAssetMode(SITE, AHU, 'maintenance', OPERATOR, 'PM');
    const before = engine.list({ includeRetired: true });
    const historyBefore = await engine.history(gen.id);

    const after = await restart(engine);
    // The last value is kept in memory between changes; a restart keeps the one of the last change.
    const withoutValue = (list: typeof before) => list.map(({ value: _v, ...rest }) => rest);
    expect(withoutValue(after.list({ includeRetired: true }))).toEqual(withoutValue(before));
    expect(after.get(gen.id)!.value).toBe(true);
    expect(await after.history(gen.id)).toEqual(historyBefore);
    expect(after.rules().map((r) => r.id)).toEqual(['ahu.sat', 'gen.comm', 'gen.fault']);
    expect(after.ruleOverrides()).toEqual([{ site: SITE, asset: 'AHU-2', ruleId: 'ahu.sat', patch: { h: 25, onDelayMs: 0 } }]);
    expect(after.assetMode(SITE, AHU)).toBe('maintenance');
    // The override still applies after the restart.
    time.now += 1000;
    after.evaluate(SITE, 'AHU-2', 'supply_air_temp', sample('supply_air_temp', 24, time.now));
    expect(after.get(ahu2.id)).toMatchObject({ active: false, state: 'unack-rtn', annunciated: false });
  });

  it('resumes an on-delay from its persisted deadline', async () => {
    const engine = await open();
    await define(engine);
    time.now += 1000;
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 31, time.now));
    const id = engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat', 'h')!.id;
    const deadline = time.now + 60_000;
    time.now += 30_000;
    const after = await restart(engine);
    after.tick(time.now);
    expect(after.get(id)).toMatchObject({ active: false, pending: { to: 'active', deadline } });
    time.now = deadline;
    after.tick(time.now);
    expect(after.get(id)).toMatchObject({ active: true, state: 'unack-active', activeSince: deadline, pending: null });
  });

  it('expires timed shelving at its persisted time after a restart', async () => {
    const engine = await open();
    await define(engine);
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', true, time.now));
    const id = engine.find(SITE, GEN, 'common_fault', 'gen.fault')!.id;
    await engine.shelve(id, OPERATOR, { kind: 'timed', durationMs: 300_000 });
    const until = time.now + 300_000;
    time.now += 100_000;
    const after = await restart(engine);
    await after.start();
    time.advance(until - time.now - 1);
    expect(after.get(id)!.shelved).not.toBeNull();
    time.advance(1_000);
    expect(after.get(id)).toMatchObject({ shelved: null, annunciated: true, state: 'unack-active' });
    await after.stop();
  });

  it('gives stale-data rules a full timeout after a restart, then raises them', async () => {
    const engine = await open();
    await define(engine);
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', false, time.now));
    const id = engine.find(SITE, GEN, 'common_fault', 'gen.comm')!.id;
    time.now += 110_000;
    const after = await restart(engine);
    time.now += 119_000;
    after.tick(time.now);
    expect(after.get(id)!.active).toBe(false);
    time.now += 1000;
    after.tick(time.now);
    expect(after.get(id)!.active).toBe(true);
  });

  it('restores the flood window and the flood alarm', async () => {
    const engine = await open({ flood: { threshold: 2 } });
    await define(engine);
    for (let n = 1; n <= 3; n++) {
      time.now += 1000;
      engine.evaluate(SITE, `AHU-${n}`, 'supply_air_temp', sample('supply_air_temp', 45, time.now));
    }
    time.now += 60_000; // the on-delay
    engine.tick(time.now);
    expect(engine.floodAlarm(SITE)!.active).toBe(true);
    const after = await restart(engine, { flood: { threshold: 2 } });
    expect(after.floodAlarm(SITE)!.active).toBe(true);
    time.now += 599_999;
    after.tick(time.now);
    expect(after.floodAlarm(SITE)!.active).toBe(true);
    time.now += 1;
    after.tick(time.now);
    expect(after.floodAlarm(SITE)!.active).toBe(false);
  });
});

describe('writes behind the engine', () => {
  /** The real unit of work, failing every commit while `down.now` is true: a database outage. */
  function flakyUnitOfWork(down: { now: boolean }) {
    const real = sqlUnitOfWork(database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: { record: async () => ({}) as never } }));
    return { run: <T>(work: Parameters<typeof real.run<T>>[0]) => (down.now ? Promise.reject(new Error('database unreachable')) : real.run(work)) };
  }

  it('keeps evaluating through a database outage and stores every change afterwards, in order', async () => {
    const down = { now: false };
    const failures: number[] = [];
    const engine = await open({ unitOfWork: flakyUnitOfWork(down), onPersistError: (_err, f) => failures.push(f.attempt) });
    await define(engine);
    down.now = true;
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', true, time.now));
    const id = engine.find(SITE, GEN, 'common_fault', 'gen.fault')!.id;
    const acked = engine.acknowledge(id, OPERATOR, 'seen');
    time.now += 1000;
    engine.evaluate(SITE, GEN, 'common_fault', sample('common_fault', false, time.now));
    // Decided in memory at once, stored later.
    expect(engine.get(id)).toMatchObject({ state: 'normal', active: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(engine.pendingWrites).toBeGreaterThan(0);
    time.advance(100); // the first retry, still down
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([1, 2]);
    down.now = false;
    time.advance(200);
    await acked;
    expect((await engine.history(id)).map((e) => [e.kind, e.state])).toEqual([
      ['activate', 'unack-active'], ['acknowledge', 'ack-active'], ['clear', 'normal'],
    ]);
    expect(engine.pendingWrites).toBe(0);
    const after = await restart(engine);
    expect(after.get(id)).toMatchObject({ state: 'normal', active: false });
  });

  it('creates the alarms of a new asset once ids arrive when the reserved ones ran out', async () => {
    const engine = await open({ idBlockSize: 1 });
    await define(engine);
    time.now += 1000;
    // AHU-1's rule has two levels (h, hh): two alarms, and one id left in the pool.
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 45, time.now));
    await engine.settled();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    const h = engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat', 'h');
    const hh = engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat', 'hh');
    expect(h).toBeDefined();
    expect(hh).toBeDefined();
    expect(h!.id).not.toBe(hh!.id);
    // Once bound, the next sample is evaluated by every alarm.
    time.now += 1000;
    engine.evaluate(SITE, AHU, 'supply_air_temp', sample('supply_air_temp', 45, time.now));
    time.now += 60_000;
    engine.tick(time.now);
    expect(engine.find(SITE, AHU, 'supply_air_temp', 'ahu.sat', 'hh')!.active).toBe(true);
  });
});

describe.each(SQL_ENGINES)('AlarmEngine on %s', (engineName) => {
  let t: TestDatabase;
  beforeEach(async () => { t = await createTestDatabase(engineName, 'alarm_engine'); });
  afterEach(async () => { await t.destroy(); });

  it('stores changes with their audit events, in order, and resumes them on a new engine', async () => {
    const first = (await openEngine(t.database, time)).engine;
    await define(first);
    time.now += 1000;
    first.evaluate(SITE, GEN, 'common_fault', sample('common_fault', true, time.now));
    const id = first.find(SITE, GEN, 'common_fault', 'gen.fault')!.id;
    await first.acknowledge(id, OPERATOR, 'crew dispatched');
    time.now += 1000;
    first.evaluate(SITE, GEN, 'common_fault', sample('common_fault', false, time.now));
    await first.setAssetMode(SITE, AHU, 'maintenance', OPERATOR);
    const before = first.list({ includeRetired: true });
    await first.stop();

    const { engine: second, audit } = await openEngine(t.reopen(), time);
    try {
      const withoutValue = (list: typeof before) => list.map(({ value: _v, ...rest }) => rest);
      expect(withoutValue(second.list({ includeRetired: true }))).toEqual(withoutValue(before));
      expect((await second.history(id)).map((e) => [e.kind, e.actor, e.state])).toEqual([
        ['activate', 'system', 'unack-active'], ['acknowledge', OPERATOR, 'ack-active'], ['clear', 'system', 'normal'],
      ]);
      expect((await audit.list({ actionPrefix: 'alarm.' })).map((e) => e.action)).toEqual([
        'alarm.rule.define', 'alarm.rule.define', 'alarm.rule.define', 'alarm.acknowledge', 'alarm.suppress',
      ]);
      expect(second.assetMode(SITE, AHU)).toBe('maintenance');
      // New alarms get ids neither engine handed out before.
      time.now += 1000;
      second.evaluate(SITE, 'AHU-2', 'supply_air_temp', sample('supply_air_temp', 20, time.now));
      const fresh = second.find(SITE, 'AHU-2', 'supply_air_temp', 'ahu.sat', 'h')!;
      expect(before.map((a) => a.id)).not.toContain(fresh.id);
    } finally {
      await second.stop();
    }
  });
});
