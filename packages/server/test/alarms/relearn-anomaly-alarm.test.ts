import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Quality } from '@shellguard/protocol';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { LiveAnalytics } from '../../src/analytics/live/live-analytics.ts';
import { seededUniform as noise } from '../../src/testing/seeded-uniform.ts';
import { AHU, FakeTime, OPERATOR, SITE, T0, memoryDatabase, openEngine } from './engine-fixture.ts';

let database: SqlDatabase;
let time: FakeTime;
let engine: AlarmEngine;

beforeEach(async () => {
  database = memoryDatabase();
  time = new FakeTime();
  ({ engine } = await openEngine(database, time));
});
afterEach(async () => {
  await engine.stop();
  await database.close();
});

const MINUTE = 60_000;

// Live analytics wired to the alarm engine as server.ts wires them (onScore → evaluateScore).
describe('an anomaly alarm when its asset is declared normal again', () => {
  it('returns to normal at the relearn instead of staying active until the new detector scores', async () => {
    await engine.defineRule({
      id: 'ahu.vib.anomaly', kind: 'anomaly', profile: 'ahu-test', point: 'fan_vibration', priority: 'medium', threshold: 0.5, deadband: 0.1,
    }, OPERATOR);
    const live = new LiveAnalytics({ clock: () => 0, multivariate: false, onScore: (site, asset, point, ts, score) => engine.evaluateScore(site, asset, point, ts, score) });
    const rand = noise(9);
    let ts = T0 - (T0 % MINUTE);
    const feed = (minutes: number, level: number) => {
      for (let m = 0; m < minutes; m++, ts += MINUTE) {
        time.now = ts;
        live.ingestBatches([{ site: SITE, asset: AHU, samples: [{ point: 'fan_vibration', ts, value: level + 0.05 * rand(), quality: Quality.good }] }]);
        engine.tick(time.now);
      }
    };
    const alarm = () => engine.find(SITE, AHU, 'fan_vibration', 'ahu.vib.anomaly');
    feed(26 * 60, 2);
    expect(alarm()?.active ?? false).toBe(false);
    // The bearing fails: far outside anything learned, the score passes the threshold.
    feed(120, 6);
    expect(alarm()).toMatchObject({ active: true });
    // Repaired at a new, healthy level, and declared normal: the alarm returns to normal now
    // (awaiting acknowledgement), with nothing more scored while the detector relearns.
    live.relearn(SITE, AHU);
    engine.tick(time.now);
    expect(alarm()).toMatchObject({ active: false, value: 0, state: 'unack-rtn' });
    feed(30, 4);
    expect(alarm()).toMatchObject({ active: false, value: 0 });
  });
});
