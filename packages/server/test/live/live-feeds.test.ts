/**
 * The hooks the domains call for the live stream: the alarm engine's `onAlarmChanged`, the fleet's
 * `onChanged` and the maintenance book's `onChanged`. Each must fire where the state a client
 * lists changes, and none may stop the domain when it throws.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Quality } from '@shellguard/protocol';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import type { Alarm } from '../../src/alarms/alarm.ts';
import type { AlarmEngine } from '../../src/alarms/alarm-engine.ts';
import { openBook } from '../analytics/maintenance/maintenance-fixture.ts';
import { AHU, FakeTime, memoryDatabase, openEngine, OPERATOR, SITE } from '../alarms/engine-fixture.ts';
import { fleetFixture, TestGuardian } from '../fleet/fleet-fixture.ts';

const SAT_RULE = {
  id: 'ahu.sat', kind: 'limit', profile: 'ahu-test', point: 'supply_air_temp', priority: 'medium',
  description: 'Supply air temperature', h: 30, deadband: 1, maxShelveMs: 3_600_000,
};

let db: SqlDatabase | undefined;
let engine: AlarmEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  await db?.close();
  engine = undefined;
  db = undefined;
});

describe('AlarmEngine onAlarmChanged', () => {
  it('reports every recorded change with a copy of the alarm, shelved ones too, and survives a throwing listener', async () => {
    db = memoryDatabase();
    const time = new FakeTime();
    const seen: Alarm[] = [];
    ({ engine } = await openEngine(db, time, {
      onAlarmChanged: (alarm) => {
        seen.push(alarm);
        if (seen.length === 1) throw new Error('a listener bug');
      },
    }));
    await engine.defineRule(SAT_RULE, OPERATOR);
    time.advance(1_000);
    engine.evaluate(SITE, AHU, 'supply_air_temp', { point: 'supply_air_temp', value: 31, ts: time.now, quality: Quality.good });
    const id = seen[0]!.id;
    await engine.acknowledge(id, OPERATOR);
    await engine.shelve(id, OPERATOR, { kind: 'timed', durationMs: 60_000 });
    time.advance(1_000);
    engine.evaluate(SITE, AHU, 'supply_air_temp', { point: 'supply_air_temp', value: 20, ts: time.now, quality: Quality.good });
    expect(seen.map((a) => [a.state, a.shelved !== null])).toEqual([
      ['unack-active', false], ['ack-active', false], ['ack-active', true], ['normal', true],
    ]);
    expect(seen.at(-1)).toEqual(engine.get(id));
    expect(seen[0]!.state).toBe('unack-active'); // a copy, not the engine's live object
  });
});

describe('FleetService onChanged', () => {
  it('fires on claims and revocations', async () => {
    const changed: string[] = [];
    const fx = await fleetFixture({ onChanged: (id) => changed.push(id) });
    try {
      await fx.setupGroup([]);
      const a = new TestGuardian('gw-a');
      const b = new TestGuardian('gw-b');
      await fx.fleet.claim({ deviceId: a.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
      await fx.fleet.claimMany([{ deviceId: b.deviceId, site: 'dc1', group: 'ahu-gw' }, { deviceId: 'bad', site: 'dc1', group: 'ahu-gw' }], 'token:admin');
      await fx.fleet.revoke(a.deviceId, 'token:admin', 'stolen');
      expect(changed).toEqual([a.deviceId, b.deviceId, a.deviceId]);
    } finally {
      await fx.close();
    }
  });
});

describe('MaintenanceBook onChanged', () => {
  it('fires when a recommendation is raised and when it becomes a work order', async () => {
    db = memoryDatabase();
    const changed: number[] = [];
    const book = await openBook(db, { onChanged: (id) => changed.push(id) });
    const rec = await book.recommend({ site: 'dc1', asset: 'P', point: 'vib', since: 0, at: 1, recentMean: 3, baselineMean: 2, baselineStd: 0.1, zScore: 10, score: 0.9 });
    await book.workOrderFromRecommendation(rec.id, 'token:op');
    expect(changed).toEqual([rec.id, rec.id]);
  });
});
