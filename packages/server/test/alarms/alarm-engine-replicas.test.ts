/**
 * The alarm engine behind several server replicas (issue 12), on both engines: each bus message is
 * evaluated once (its changes and its id commit together, so a redelivery to a new leader changes
 * nothing), and a standby shows what the active replica stored but evaluates and acts on nothing
 * until it becomes active.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { sqlUnitOfWork, type UnitOfWork } from '../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import type { AlarmEngine, AlarmPersistFailure, AlarmStores } from '../../src/alarms/alarm-engine.ts';
import { AlarmError } from '../../src/alarms/alarm-error.ts';
import { SqlAlarmStore } from '../../src/alarms/sql-alarm-store.ts';
import { AHU, FakeTime, OPERATOR, SITE, openEngine, sample } from './engine-fixture.ts';

const POINT = 'supply_air_temp';
const RULE = { id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: POINT, priority: 'high', h: 30 } as const;

/** The audit trail of the alarm tests' failing units of work: not what they are about. */
const QUIET_AUDIT = { record: async () => ({}) as never };
/** A generous wait for what the engine does in the background (retries, reservations). */
const WAIT = { timeout: 20_000, interval: 20 };

describe.each(SQL_ENGINES)('AlarmEngine replicas (%s)', (engineName) => {
  let t: TestDatabase;
  let time: FakeTime;
  /** Every engine opened, stopped after each test (before the database goes). */
  let engines: AlarmEngine[];
  let reader: SqlAlarmStore | undefined;

  beforeEach(async () => {
    t = await createTestDatabase(engineName, 'alarm_replicas');
    time = new FakeTime();
    engines = [];
    reader = undefined;
  });
  afterEach(async () => {
    for (const e of engines) await e.stop();
    await t.destroy();
  });

  async function open(database: SqlDatabase, extra: Parameters<typeof openEngine>[2] = {}): Promise<AlarmEngine> {
    const { engine } = await openEngine(database, time, extra);
    engines.push(engine);
    return engine;
  }

  /** What is in the database, read on a connection of its own (as another replica would). */
  function storedState(): SqlAlarmStore {
    reader ??= new SqlAlarmStore(t.reopen().db);
    return reader;
  }

  /** What one bus message makes `engine` evaluate: the asset's supply air `values`, 1 ms apart, ending now. */
  function batchOf(engine: AlarmEngine, values: number[], asset = AHU): () => void {
    return () => {
      values.forEach((v, i) => engine.evaluate(SITE, asset, POINT, sample(POINT, v, time.now - (values.length - 1 - i))));
    };
  }

  /** The engine's unit of work on the test database, whose recording of a message fails while `down.mark` is true. */
  function markRefusingUnitOfWork(down: { readonly mark: boolean }): UnitOfWork<AlarmStores> {
    class MarkRefusingStore extends SqlAlarmStore {
      override async markHandled(messageId: string, at: number): Promise<boolean> {
        if (down.mark) throw new Error('could not record the message: connection reset');
        return super.markHandled(messageId, at);
      }
    }
    return sqlUnitOfWork(t.database, (tx) => ({ alarms: new MarkRefusingStore(tx), audit: QUIET_AUDIT }));
  }

  async function historyOf(store: SqlAlarmStore, alarmId: number): Promise<[string, string][]> {
    return (await store.history(alarmId, 100)).map((e) => [e.kind, e.state]);
  }

  describe('evaluateOnce', () => {
    it('raises an alarm once per message, ignores the message redelivered, and clears on a later one', async () => {
      const engine = await open(t.database);
      await engine.defineRule(RULE, OPERATOR);
      const stored = storedState();
      time.now += 1000;

      expect(await engine.evaluateOnce('batch:g1:e1:1', batchOf(engine, [29, 31, 32]))).toBe(true);
      const alarm = engine.find(SITE, AHU, POINT, 'ahu.sat', 'h')!;
      expect(alarm).toMatchObject({ active: true, state: 'unack-active', value: 32 });
      // Resolved once stored: the history and the id are in the database already.
      expect(await historyOf(stored, alarm.id)).toEqual([['activate', 'unack-active']]);
      expect(await stored.wasHandled('batch:g1:e1:1')).toBe(true);

      // The same message again (the bus redelivered it): not evaluated, nothing recorded.
      time.now += 1000;
      const again = vi.fn(batchOf(engine, [45]));
      expect(await engine.evaluateOnce('batch:g1:e1:1', again)).toBe(false);
      expect(again).not.toHaveBeenCalled();
      expect(engine.get(alarm.id)).toMatchObject({ active: true, state: 'unack-active', value: 32 });
      expect(await historyOf(stored, alarm.id)).toEqual([['activate', 'unack-active']]);

      // The next message, back in range: the alarm clears (still to be acknowledged).
      time.now += 1000;
      expect(await engine.evaluateOnce('batch:g1:e1:2', batchOf(engine, [25]))).toBe(true);
      expect(engine.get(alarm.id)).toMatchObject({ active: false, state: 'unack-rtn' });
      expect(await historyOf(stored, alarm.id)).toEqual([['activate', 'unack-active'], ['clear', 'unack-rtn']]);
      expect(await stored.wasHandled('batch:g1:e1:2')).toBe(true);
    });

    it('refuses at commit a repeat that skipped the lookup, storing nothing of it, and reloads', async () => {
      const engine = await open(t.database);
      await engine.defineRule(RULE, OPERATOR);
      time.now += 1000;
      expect(await engine.evaluateOnce('batch:g1:e1:9', batchOf(engine, [31]), { maybeSeen: false })).toBe(true);
      const alarm = engine.find(SITE, AHU, POINT, 'ahu.sat', 'h')!;
      // The same message again, wrongly taken for new: its raise-and-clear is not stored.
      time.now += 1000;
      expect(await engine.evaluateOnce('batch:g1:e1:9', batchOf(engine, [25, 31]), { maybeSeen: false })).toBe(false);
      expect(await historyOf(storedState(), alarm.id)).toEqual([['activate', 'unack-active']]);
      // What it holds is what was stored.
      expect(engine.get(alarm.id)).toMatchObject({ active: true, state: 'unack-active' });
    });

    it('records a message that changed nothing, so its redelivery is skipped too', async () => {
      const engine = await open(t.database);
      await engine.defineRule(RULE, OPERATOR);
      time.now += 1000;
      expect(await engine.evaluateOnce('batch:g1:e1:1', batchOf(engine, [20, 21]))).toBe(true);
      expect(await storedState().wasHandled('batch:g1:e1:1')).toBe(true);
      expect(await engine.evaluateOnce('batch:g1:e1:1', batchOf(engine, [20, 21]))).toBe(false);
    });

    /**
     * The engine's real unit of work, made to fail while `down.now` is true: either the message's
     * mark fails (the last write of its change), or the transaction fails after every write of it
     * ran (a commit that does not happen). Either way the rollback must take every change of the
     * message along with its id.
     */
    function failingUnitOfWork(how: 'mark' | 'commit', down: { now: boolean }): UnitOfWork<AlarmStores> {
      if (how === 'mark') return markRefusingUnitOfWork({ get mark() { return down.now; } });
      const real = sqlUnitOfWork(t.database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: QUIET_AUDIT }));
      return {
        run: (work) => real.run(async (stores) => {
          const result = await work(stores);
          if (down.now) throw new Error('could not commit: connection reset');
          return result;
        }),
      };
    }

    it.each(['mark', 'commit'] as const)('stores nothing of a message while its transaction fails (%s), then all of it', async (how) => {
      const down = { now: false };
      const failures: AlarmPersistFailure[] = [];
      const engine = await open(t.database, { unitOfWork: failingUnitOfWork(how, down), onPersistError: (_err, f) => failures.push(f) });
      await engine.defineRule(RULE, OPERATOR);
      const stored = storedState();
      time.now += 1000;

      down.now = true;
      let resolved: boolean | undefined;
      const evaluated = engine.evaluateOnce('batch:g1:e1:1', batchOf(engine, [31, 25, 33]));
      void evaluated.then((fresh) => { resolved = fresh; }, () => {});
      // Decided in memory (once the id was looked up)...
      await vi.waitFor(() => expect(engine.find(SITE, AHU, POINT, 'ahu.sat', 'h')).toMatchObject({ active: true, state: 'unack-active' }), WAIT);
      const alarm = engine.find(SITE, AHU, POINT, 'ahu.sat', 'h')!;
      await vi.waitFor(() => expect(failures).toHaveLength(1), WAIT);
      expect(failures[0]).toMatchObject({ what: 'alarm changes', attempt: 1, final: false });
      // ...but while the write fails, none of it is in the database: not the alarm, its history nor the id.
      expect(await stored.wasHandled('batch:g1:e1:1')).toBe(false);
      expect(await stored.history(alarm.id, 100)).toEqual([]);
      expect((await stored.loadAlarms()).filter((a) => a.key === alarm.key && a.active)).toEqual([]);
      expect(resolved).toBeUndefined();

      // The queue retries after its backoff (100 ms on the engine's clock): still failing, still nothing.
      time.advance(100);
      await vi.waitFor(() => expect(failures).toHaveLength(2), WAIT);
      expect(await stored.wasHandled('batch:g1:e1:1')).toBe(false);
      expect(await stored.history(alarm.id, 100)).toEqual([]);

      // The database is back: the next retry stores every change of the message and its id together.
      down.now = false;
      time.advance(200);
      expect(await evaluated).toBe(true);
      expect(await stored.wasHandled('batch:g1:e1:1')).toBe(true);
      expect(await historyOf(stored, alarm.id)).toEqual([
        ['activate', 'unack-active'], ['clear', 'unack-rtn'], ['activate', 'unack-active'],
      ]);
      expect((await stored.loadAlarms()).find((a) => a.key === alarm.key)).toMatchObject({ id: alarm.id, active: true, state: 'unack-active' });
      expect(failures).toHaveLength(2);
    });

    it('keeps a message whole when the writes waiting before it fill a transaction', async () => {
      // The queue commits at most 256 writes per transaction (write-queue.ts). With 255 changes
      // waiting out an outage, a message whose changes were queued one by one would be split: its
      // first change committed with them, the rest and its id in the next transaction.
      const down = { all: false, mark: false };
      const real = markRefusingUnitOfWork(down);
      const failures: AlarmPersistFailure[] = [];
      const engine = await open(t.database, {
        unitOfWork: { run: (work) => (down.all ? Promise.reject(new Error('database unreachable')) : real.run(work)) },
        onPersistError: (_err, f) => failures.push(f),
        flood: { threshold: 1_000_000 }, // one write per change below, no flood alarm
      });
      await engine.defineRule(RULE, OPERATOR);
      time.now += 1000;
      engine.evaluate(SITE, AHU, POINT, sample(POINT, 20, time.now));
      engine.evaluate(SITE, 'AHU-2', POINT, sample(POINT, 20, time.now));
      await engine.settled();
      const stored = storedState();

      down.all = true;
      time.now += 1000;
      for (let i = 0; i < 255; i++) engine.evaluate(SITE, AHU, POINT, sample(POINT, i % 2 === 0 ? 31 : 25, time.now - 1000 + i));
      await vi.waitFor(() => expect(failures).toHaveLength(1), WAIT);
      const evaluated = engine.evaluateOnce('batch:g1:e1:1', batchOf(engine, [31, 25, 33], 'AHU-2'));
      await vi.waitFor(() => expect(engine.find(SITE, 'AHU-2', POINT, 'ahu.sat', 'h')).toMatchObject({ active: true }), WAIT);
      const alarm = engine.find(SITE, 'AHU-2', POINT, 'ahu.sat', 'h')!;

      down.all = false;
      down.mark = true;
      time.advance(100);
      await vi.waitFor(() => expect(failures).toHaveLength(2), WAIT);
      expect(await stored.history(alarm.id, 100)).toEqual([]);
      expect(await stored.wasHandled('batch:g1:e1:1')).toBe(false);

      down.mark = false;
      time.advance(200);
      expect(await evaluated).toBe(true);
      expect(await historyOf(stored, alarm.id)).toEqual([['activate', 'unack-active'], ['clear', 'unack-rtn'], ['activate', 'unack-active']]);
      expect(await stored.wasHandled('batch:g1:e1:1')).toBe(true);
      expect(await stored.history(engine.find(SITE, AHU, POINT, 'ahu.sat', 'h')!.id, 1000)).toHaveLength(255);
    });

    it('changes nothing when a new leader, reloaded from the database, receives the message again', async () => {
      const first = await open(t.database);
      await first.defineRule(RULE, OPERATOR);
      time.now += 1000;
      // High then low within one message.
      expect(await first.evaluateOnce('batch:g1:e1:1', batchOf(first, [31, 33, 25]))).toBe(true);
      const alarm = first.find(SITE, AHU, POINT, 'ahu.sat', 'h')!;
      expect(alarm).toMatchObject({ active: false, state: 'unack-rtn' });
      // The first leader is deposed before it acknowledged the message to the bus.
      first.setActive(false);

      const second = await open(t.reopen(), { active: false });
      await second.reload();
      second.setActive(true);
      expect(second.get(alarm.id)).toMatchObject({ key: alarm.key, active: false, state: 'unack-rtn' });
      time.now += 1000;
      const redelivered = vi.fn(batchOf(second, [31, 33, 25]));
      expect(await second.evaluateOnce('batch:g1:e1:1', redelivered)).toBe(false);
      expect(redelivered).not.toHaveBeenCalled();
      const stored = storedState();
      expect(await historyOf(stored, alarm.id)).toEqual([['activate', 'unack-active'], ['clear', 'unack-rtn']]);
      expect(second.get(alarm.id)).toMatchObject({ active: false, state: 'unack-rtn' });

      // Not because the new leader's memory skipped old samples: a new message with them is evaluated.
      expect(await second.evaluateOnce('batch:g1:e1:2', batchOf(second, [31]))).toBe(true);
      expect(await historyOf(stored, alarm.id)).toEqual([['activate', 'unack-active'], ['clear', 'unack-rtn'], ['activate', 'unack-active']]);
    });
  });

  describe('a standby replica', () => {
    async function expectStandbyRefusal(action: Promise<unknown>): Promise<void> {
      const err = await action.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(AlarmError);
      expect(err).toMatchObject({ code: 'alarm_standby' });
    }

    it('shows what the active replica stored, refuses to act, and takes over without reusing its alarm ids', async () => {
      const active = await open(t.database);
      const standby = await open(t.reopen(), { active: false });
      expect(active.isActive).toBe(true);
      expect(standby.isActive).toBe(false);

      // Rule changes and operator actions belong on the active replica.
      await expectStandbyRefusal(standby.defineRule(RULE, OPERATOR));
      await active.defineRule(RULE, OPERATOR);

      // The standby evaluates nothing: no alarm, in memory or stored.
      time.now += 1000;
      standby.evaluate(SITE, AHU, POINT, sample(POINT, 35, time.now));
      await standby.settled();
      expect(standby.list()).toEqual([]);
      expect(await storedState().loadAlarms()).toEqual([]);
      await expectStandbyRefusal(standby.evaluateOnce('batch:g1:e1:1', batchOf(standby, [35])));
      expect(await storedState().wasHandled('batch:g1:e1:1')).toBe(false);

      // The active replica raises an alarm; the standby shows it once it reloads.
      expect(await active.evaluateOnce('batch:g1:e1:1', batchOf(active, [35]))).toBe(true);
      const raised = active.find(SITE, AHU, POINT, 'ahu.sat', 'h')!;
      expect(raised).toMatchObject({ active: true, state: 'unack-active' });
      expect(standby.list()).toEqual([]);
      await standby.reload();
      expect(standby.list().map((a) => [a.id, a.key, a.state])).toEqual([[raised.id, raised.key, 'unack-active']]);
      expect(standby.rules().map((r) => r.id)).toEqual(['ahu.sat']);

      // Shown, but not operated on here.
      await expectStandbyRefusal(standby.acknowledge(raised.id, OPERATOR, 'seen'));
      await expectStandbyRefusal(standby.shelve(raised.id, OPERATOR, { kind: 'timed', durationMs: 60_000 }));
      await expectStandbyRefusal(standby.defineRule({ ...RULE, h: 40 }, OPERATOR));
      await standby.settled();
      expect(await historyOf(storedState(), raised.id)).toEqual([['activate', 'unack-active']]);

      // Failover: the active replica steps down, the standby reloads and becomes active.
      active.setActive(false);
      await active.settled();
      await expectStandbyRefusal(active.acknowledge(raised.id, OPERATOR));
      await standby.reload();
      standby.setActive(true);
      expect(standby.isActive).toBe(true);
      time.now += 1000;
      expect(await standby.evaluateOnce('batch:g1:e1:2', batchOf(standby, [36], 'AHU-2'))).toBe(true);
      const second = standby.find(SITE, 'AHU-2', POINT, 'ahu.sat', 'h')!;
      expect(second).toMatchObject({ active: true, state: 'unack-active' });
      expect(second.id).not.toBe(raised.id);
      // It continues the first replica's alarm too.
      expect(await standby.acknowledge(raised.id, OPERATOR, 'seen')).toMatchObject({ state: 'ack-active' });
      expect(await standby.evaluateOnce('batch:g1:e1:3', batchOf(standby, [25]))).toBe(true);
      expect(standby.get(raised.id)).toMatchObject({ active: false, state: 'normal' });

      // And back: the first replica takes over again and raises one more, from the ids it holds.
      standby.setActive(false);
      await standby.settled();
      await active.reload();
      active.setActive(true);
      time.now += 1000;
      expect(await active.evaluateOnce('batch:g1:e1:4', batchOf(active, [37], 'AHU-3'))).toBe(true);
      const third = active.find(SITE, 'AHU-3', POINT, 'ahu.sat', 'h')!;
      await active.settled();

      // Every alarm keeps its own id: a reused id would have overwritten another alarm's record.
      const ids = [raised.id, second.id, third.id];
      expect(new Set(ids).size).toBe(3);
      const all = await storedState().loadAlarms();
      expect(all.map((a) => [a.id, a.key])).toEqual(
        [[raised.id, raised.key], [second.id, second.key], [third.id, third.key]].sort((x, y) => (x[0] as number) - (y[0] as number)),
      );
      expect(await historyOf(storedState(), second.id)).toEqual([['activate', 'unack-active']]);
      expect(await historyOf(storedState(), third.id)).toEqual([['activate', 'unack-active']]);
      expect(await historyOf(storedState(), raised.id)).toEqual([
        ['activate', 'unack-active'], ['acknowledge', 'ack-active'], ['clear', 'normal'],
      ]);
    });

    it('does not tick: timers run on the active replica only', async () => {
      const standby = await open(t.database, { active: false });
      await standby.start();
      expect(time.pendingTimers()).toBe(0);
      standby.setActive(true);
      await standby.start();
      expect(time.pendingTimers()).toBe(1);
      standby.setActive(false);
      expect(time.pendingTimers()).toBe(0);
    });
  });

  // Two handles on one database: PostgreSQL only (two SQLite handles in one process deadlock).
  describe.runIf(engineName === 'postgres')('two replicas leading for a moment', () => {
    it('stores one replica\'s changes for a message both evaluated, and the other reloads what was stored', async () => {
      const first = await open(t.database);
      await first.defineRule(RULE, OPERATOR);
      const second = await open(t.reopen());
      await second.reload();
      time.now += 1000;
      // The same message on both at once, as when a lead changes hands under a redelivery.
      const [a, b] = await Promise.all([
        first.evaluateOnce('batch:g1:e1:7', batchOf(first, [31, 25, 33])),
        second.evaluateOnce('batch:g1:e1:7', batchOf(second, [31, 25, 33])),
      ]);
      expect([a, b].sort()).toEqual([false, true]);
      const alarm = first.find(SITE, AHU, POINT, 'ahu.sat', 'h') ?? second.find(SITE, AHU, POINT, 'ahu.sat', 'h')!;
      // One raise, one clear, one raise: the message's effects once, not twice.
      expect(await historyOf(storedState(), alarm.id)).toEqual([['activate', 'unack-active'], ['clear', 'unack-rtn'], ['activate', 'unack-active']]);
      // The one refused holds what was stored, not its own version of it.
      const loser = a ? second : first;
      expect(loser.get(alarm.id)).toMatchObject({ active: true, state: 'unack-active' });
    });
  });
});
