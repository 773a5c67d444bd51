import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SqlDatabase } from '../../../src/db/sql-database.ts';
import { openSqliteSqlDatabase } from '../../../src/db/sqlite-sql-database.ts';
import { WEEK_MS } from '../../../src/analytics/maintenance/maintenance-book.ts';
import { openBook } from './maintenance-fixture.ts';

const MONDAY = Date.UTC(2025, 5, 2); // 2025-06-02, a Monday
const evidence = { site: 'dc1', asset: 'CHWP-1', point: 'vib', since: MONDAY, at: MONDAY + 1, recentMean: 3, baselineMean: 2, baselineStd: 0.1, zScore: 10, score: 0.8 };

describe('MaintenanceBook', () => {
  let database: SqlDatabase;
  beforeEach(() => { database = openSqliteSqlDatabase(':memory:'); });
  afterEach(async () => { await database.close(); });

  it('turns a recommendation into a predictive work order, once', async () => {
    let clock = MONDAY;
    const book = await openBook(database, { now: () => clock });
    const rec = await book.recommend(evidence);
    expect(rec).toMatchObject({ status: 'open', chart: null, workOrderId: null });
    clock += 1000;
    const wo = await book.workOrderFromRecommendation(rec.id, 'token:t1');
    expect(wo).toMatchObject({ type: 'predictive', status: 'open', recommendationId: rec.id, point: 'vib', createdBy: 'token:t1' });
    expect(wo.title).toBe('Inspect CHWP-1 vib: 10.0 σ from normal since 2025-06-02T00:00:00.000Z');
    expect(await book.recommendation(rec.id)).toMatchObject({ status: 'work-order', workOrderId: wo.id });
    await expect(book.workOrderFromRecommendation(rec.id, 'token:t1')).rejects.toMatchObject({ code: 'recommendation_closed' });
    await expect(book.workOrderFromRecommendation(999, 'token:t1')).rejects.toMatchObject({ code: 'recommendation_not_found' });
    expect(await book.completeWorkOrder(wo.id)).toMatchObject({ status: 'done', doneAt: clock });
    await expect(book.completeWorkOrder(999)).rejects.toMatchObject({ code: 'work_order_not_found' });
  });

  it('keeps an asset-level recommendation\'s moves and makes an asset work order named after the points that moved', async () => {
    const book = await openBook(database);
    const moves = [
      { point: 'chw_valve_position', z: 2.5, value: 60, normalMean: 50, normalStd: 4, share: 0.5 },
      { point: 'supply_air_temp', z: -1.25, value: 17.5, normalMean: 18, normalStd: 0.4, share: 0.25 },
      { point: 'return_air_temp', z: 0.5, value: 24.5, normalMean: 24.25, normalStd: 0.5, share: 0.15 },
      { point: 'fan_motor_current', z: 0.25, value: 10.05, normalMean: 10, normalStd: 0.2, share: 0.1 },
    ];
    const rec = await book.recommend({ ...evidence, point: 'chw_valve_position', zScore: 2.5, method: 'asset', moves });
    expect(rec).toMatchObject({ method: 'asset', moves, point: 'chw_valve_position' });
    expect(await book.recommend(evidence)).toMatchObject({ method: 'point', moves: null });
    const wo = await book.workOrderFromRecommendation(rec.id, 'op');
    expect(wo).toMatchObject({ type: 'predictive', point: null, asset: 'CHWP-1', recommendationId: rec.id });
    expect(wo.title).toBe('Inspect CHWP-1: its points moved together (chw_valve_position +2.5 σ, supply_air_temp -1.3 σ, return_air_temp +0.5 σ) since 2025-06-02T00:00:00.000Z');
  });

  it('links a chart of the point around the deviation when the point has an id', async () => {
    const book = await openBook(database, { pointId: () => 42, chartLeadMs: 1000, chartBucketMs: 10 });
    expect((await book.recommend(evidence)).chart).toBe(`/api/v1/points/42/samples?from=${MONDAY - 1000}&to=${MONDAY + 11}&bucket=10`);
  });

  it('tells the live stream of a new recommendation and of one that became a work order', async () => {
    const changed: number[] = [];
    const book = await openBook(database, { onChanged: (id) => changed.push(id) });
    const rec = await book.recommend(evidence);
    await book.workOrderFromRecommendation(rec.id, 'op');
    await expect(book.workOrderFromRecommendation(rec.id, 'op')).rejects.toThrow();
    expect(changed).toEqual([rec.id, rec.id]);
  });

  it('refuses operator work orders typed predictive, and work orders without a title or site', async () => {
    const book = await openBook(database);
    await expect(book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'predictive', title: 'x' }, 'op'))
      .rejects.toMatchObject({ code: 'work_order_invalid' });
    await expect(book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'planned', title: ' ' }, 'op'))
      .rejects.toMatchObject({ code: 'work_order_invalid', details: { field: 'title' } });
    await expect(book.createWorkOrder({ site: '', asset: 'A', type: 'planned', title: 'x' }, 'op'))
      .rejects.toMatchObject({ code: 'work_order_invalid', details: { field: 'site' } });
    expect(await book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'planned', title: 'filters' }, 'op')).toMatchObject({ type: 'planned', point: null });
    expect(await book.workOrders()).toHaveLength(1);
  });

  it('reports the share of reactive work orders per site and week', async () => {
    let clock = MONDAY + 3_600_000;
    const book = await openBook(database, { now: () => clock });
    await book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 'tripped' }, 'op');
    await book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 'tripped again' }, 'op');
    await book.createWorkOrder({ site: 'dc1', asset: 'B', type: 'planned', title: 'filters' }, 'op');
    await book.createWorkOrder({ site: 'dc2', asset: 'C', type: 'planned', title: 'filters' }, 'op');
    clock = MONDAY + WEEK_MS + 5 * 86_400_000; // Saturday of the next week
    await book.workOrderFromRecommendation((await book.recommend(evidence)).id, 'op');
    await book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 'tripped' }, 'op');
    expect(await book.reactiveShare()).toEqual([
      { site: 'dc1', periodStart: MONDAY, total: 3, reactive: 2, share: 2 / 3 },
      { site: 'dc1', periodStart: MONDAY + WEEK_MS, total: 2, reactive: 1, share: 0.5 },
      { site: 'dc2', periodStart: MONDAY, total: 1, reactive: 0, share: 0 },
    ]);
    expect(await book.reactiveShare({ site: 'dc2' })).toHaveLength(1);
    expect(await book.reactiveShare({ from: MONDAY + WEEK_MS })).toEqual([{ site: 'dc1', periodStart: MONDAY + WEEK_MS, total: 2, reactive: 1, share: 0.5 }]);
  });

  it('keeps recommendations and work orders across a reopen of the database', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-maint-'));
    const file = path.join(dir, 'server.db');
    const first = openSqliteSqlDatabase(file);
    const book = await openBook(first);
    await book.recommend(evidence);
    await book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 't' }, 'op');
    await first.close();
    const second = openSqliteSqlDatabase(file);
    const again = await openBook(second);
    expect(await again.recommendations()).toHaveLength(1);
    expect(await again.workOrders({ type: 'reactive' })).toHaveLength(1);
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
