/**
 * The MaintenanceStore contract (maintenance-store.ts), run on every engine: recommendations,
 * work orders, planning a recommendation exactly once, and the per-period counts of the KPI;
 * asset-level recommendations with their moves (migration 2), and rows from before it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { runSqlMigrations } from '../../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../../src/db/unit-of-work.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../../src/testing/index.ts';
import { MAINTENANCE_MIGRATIONS } from '../../../src/analytics/maintenance/maintenance-schema.ts';
import type { NewRecommendation, NewWorkOrder } from '../../../src/analytics/maintenance/maintenance-store.ts';
import { SqlMaintenanceStore } from '../../../src/analytics/maintenance/sql-maintenance-store.ts';
import type { PointMove } from '../../../src/analytics/detectors/multivariate.ts';

const T0 = 1_750_000_000_000;
const HOUR = 3_600_000;

function recommendation(extra: Partial<NewRecommendation> = {}): NewRecommendation {
  return {
    site: 'dc1', asset: 'CHWP-1', point: 'vib', since: T0, at: T0 + 1, recentMean: 3.25, baselineMean: 2.5, baselineStd: 0.125,
    zScore: 6.5, score: 0.875, chart: '/api/v1/points/7/samples', createdAt: T0 + 2, ...extra,
  };
}

function workOrder(extra: Partial<NewWorkOrder> = {}): NewWorkOrder {
  return {
    site: 'dc1', asset: 'CHWP-1', point: null, type: 'planned', title: 'filters', recommendationId: null, createdBy: 'token:op',
    createdAt: T0, ...extra,
  };
}

describe.each(SQL_ENGINES)('MaintenanceStore contract (%s)', (engine) => {
  let t: TestDatabase;
  let store: SqlMaintenanceStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'maintenance');
    await runSqlMigrations(t.database, 'maintenance', MAINTENANCE_MIGRATIONS);
    store = new SqlMaintenanceStore(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });

  it('stores a recommendation open, with an id from the database, and reads it back', async () => {
    const a = await store.addRecommendation(recommendation());
    const b = await store.addRecommendation(recommendation({ chart: null }));
    expect(a).toEqual({ ...recommendation(), id: a.id, status: 'open', workOrderId: null, method: 'point', moves: null });
    expect(b.id).toBeGreaterThan(a.id);
    expect(await store.recommendation(a.id)).toEqual(a);
    expect(await store.recommendation(b.id + 1)).toBeUndefined();
  });

  it('stores an asset-level recommendation with the points that moved, and reads them back as stored', async () => {
    const moves: PointMove[] = [
      { point: 'chw_valve_position', z: 2.75, value: 61.5, normalMean: 48.25, normalStd: 4.8125, share: 0.625 },
      { point: 'supply_air_temp', z: -1.5, value: 17.625, normalMean: 18, normalStd: 0.25, share: 0.375 },
    ];
    const asset = await store.addRecommendation(recommendation({ method: 'asset', moves, point: 'chw_valve_position', zScore: 2.75 }));
    expect(asset).toMatchObject({ method: 'asset', moves, point: 'chw_valve_position' });
    expect(await store.recommendation(asset.id)).toEqual(asset);
    const point = await store.addRecommendation(recommendation({ method: 'point' }));
    expect((await store.recommendations({ limit: 10 })).map((r) => [r.id, r.method, r.moves])).toEqual([[point.id, 'point', null], [asset.id, 'asset', moves]]);
  });

  it('refuses a method the schema does not know', async () => {
    await expect(store.addRecommendation(recommendation({ method: 'guess' as never }))).rejects.toThrow();
    expect(await store.recommendations({ limit: 10 })).toEqual([]);
  });

  it('reads recommendations stored before migration 2 as point-level, without moves', async () => {
    await t.destroy();
    t = await createTestDatabase(engine, 'maintenance');
    await runSqlMigrations(t.database, 'maintenance', MAINTENANCE_MIGRATIONS.filter((m) => m.version === 1));
    const old = recommendation();
    await sql`INSERT INTO maintenance_recommendations (site, asset, point, since, at, recent_mean, baseline_mean, baseline_std, z_score, score, chart, status, work_order_id, created_at)
      VALUES (${old.site}, ${old.asset}, ${old.point}, ${old.since}, ${old.at}, ${old.recentMean}, ${old.baselineMean}, ${old.baselineStd}, ${old.zScore}, ${old.score}, ${old.chart}, 'open', NULL, ${old.createdAt})`
      .execute(t.database.db);
    expect(await runSqlMigrations(t.database, 'maintenance', MAINTENANCE_MIGRATIONS)).toBe(2);
    store = new SqlMaintenanceStore(t.database.db);
    const [row] = await store.recommendations({ limit: 10 });
    expect(row).toEqual({ ...old, id: row!.id, status: 'open', workOrderId: null, method: 'point', moves: null });
  });

  it('lists recommendations newest first, by site and status, at most `limit`', async () => {
    const a = await store.addRecommendation(recommendation());
    const b = await store.addRecommendation(recommendation({ site: 'dc2' }));
    const c = await store.addRecommendation(recommendation());
    await store.planRecommendation(a.id, workOrder({ type: 'predictive' }));
    const ids = async (f: Parameters<typeof store.recommendations>[0]) => (await store.recommendations(f)).map((r) => r.id);
    expect(await ids({ limit: 10 })).toEqual([c.id, b.id, a.id]);
    expect(await ids({ limit: 2 })).toEqual([c.id, b.id]);
    expect(await ids({ site: 'dc1', limit: 10 })).toEqual([c.id, a.id]);
    expect(await ids({ site: 'DC1', limit: 10 })).toEqual([]);
    expect(await ids({ status: 'open', limit: 10 })).toEqual([c.id, b.id]);
    expect(await ids({ site: 'dc1', status: 'work-order', limit: 10 })).toEqual([a.id]);
  });

  it('stores work orders open and lists them newest first, by site, status and type', async () => {
    const a = await store.addWorkOrder(workOrder());
    const b = await store.addWorkOrder(workOrder({ type: 'reactive', point: 'trip', site: 'dc2' }));
    const c = await store.addWorkOrder(workOrder({ type: 'reactive' }));
    expect(a).toEqual({ ...workOrder(), id: a.id, status: 'open', doneAt: null });
    expect(await store.workOrder(b.id)).toEqual({ ...workOrder({ type: 'reactive', point: 'trip', site: 'dc2' }), id: b.id, status: 'open', doneAt: null });
    await store.completeWorkOrder(a.id, T0 + HOUR);
    const ids = async (f: Parameters<typeof store.workOrders>[0]) => (await store.workOrders(f)).map((w) => w.id);
    expect(await ids({ limit: 10 })).toEqual([c.id, b.id, a.id]);
    expect(await ids({ limit: 1 })).toEqual([c.id]);
    expect(await ids({ type: 'reactive', limit: 10 })).toEqual([c.id, b.id]);
    expect(await ids({ site: 'dc1', status: 'open', limit: 10 })).toEqual([c.id]);
    expect(await ids({ status: 'done', limit: 10 })).toEqual([a.id]);
  });

  it('refuses a work order of a type or status the schema does not know', async () => {
    await expect(store.addWorkOrder(workOrder({ type: 'urgent' as never }))).rejects.toThrow();
    expect(await store.workOrders({ limit: 10 })).toEqual([]);
  });

  it('completes an open work order once, keeping the first time; nothing for an unknown one', async () => {
    const wo = await store.addWorkOrder(workOrder());
    expect(await store.completeWorkOrder(wo.id, T0 + 5)).toEqual({ ...wo, status: 'done', doneAt: T0 + 5 });
    expect(await store.completeWorkOrder(wo.id, T0 + 9)).toEqual({ ...wo, status: 'done', doneAt: T0 + 5 });
    expect(await store.completeWorkOrder(wo.id + 1, T0)).toBeUndefined();
  });

  it('plans an open recommendation: stores the work order and links it', async () => {
    const rec = await store.addRecommendation(recommendation());
    const wo = await store.planRecommendation(rec.id, workOrder({ type: 'predictive', point: 'vib' }));
    expect(wo).toMatchObject({ type: 'predictive', status: 'open', recommendationId: rec.id, point: 'vib' });
    expect(await store.recommendation(rec.id)).toEqual({ ...rec, status: 'work-order', workOrderId: wo.id });
  });

  it('refuses to plan a recommendation twice or one it does not hold, storing no work order', async () => {
    const rec = await store.addRecommendation(recommendation());
    const first = await store.planRecommendation(rec.id, workOrder({ type: 'predictive' }));
    await expect(store.planRecommendation(rec.id, workOrder({ type: 'predictive' })))
      .rejects.toMatchObject({ code: 'recommendation_closed', details: { recommendationId: rec.id, workOrderId: first.id } });
    await expect(store.planRecommendation(rec.id + 1, workOrder({ type: 'predictive' })))
      .rejects.toMatchObject({ code: 'recommendation_not_found' });
    expect((await store.workOrders({ limit: 10 })).map((w) => w.id)).toEqual([first.id]);
  });

  it.runIf(engine === 'postgres')('lets only one of two replicas planning at once make the work order', async () => {
    const rec = await store.addRecommendation(recommendation());
    const other = new SqlMaintenanceStore(t.reopen().db);
    const results = await Promise.allSettled([
      store.planRecommendation(rec.id, workOrder({ type: 'predictive', title: 'a' })),
      other.planRecommendation(rec.id, workOrder({ type: 'predictive', title: 'b' })),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'recommendation_closed' });
    const stored = await store.workOrders({ limit: 10 });
    expect(stored).toHaveLength(1);
    expect((await store.recommendation(rec.id))?.workOrderId).toBe(stored[0]!.id);
  });

  it('counts work orders per site and period since the origin, by site then oldest period first', async () => {
    const origin = T0 - 10 * HOUR;
    const at = (h: number) => origin + h * HOUR;
    for (const [site, h, type] of [
      ['dc1', 1, 'reactive'], ['dc1', 2, 'planned'], ['dc1', 25, 'reactive'], ['dc1', 26, 'reactive'],
      ['dc2', 3, 'planned'], ['dc1', -1, 'reactive'], ['dc1', 49, 'predictive'],
    ] as const) await store.addWorkOrder(workOrder({ site, type, createdAt: at(h) }));
    const day = 24 * HOUR;
    expect(await store.countByPeriod({ periodMs: day, origin })).toEqual([
      { site: 'dc1', periodStart: origin, total: 2, reactive: 1 },
      { site: 'dc1', periodStart: origin + day, total: 2, reactive: 2 },
      { site: 'dc1', periodStart: origin + 2 * day, total: 1, reactive: 0 },
      { site: 'dc2', periodStart: origin, total: 1, reactive: 0 },
    ]);
    expect(await store.countByPeriod({ periodMs: day, origin, site: 'dc2' })).toEqual([{ site: 'dc2', periodStart: origin, total: 1, reactive: 0 }]);
    expect(await store.countByPeriod({ periodMs: day, origin, from: at(2), to: at(26) })).toEqual([
      { site: 'dc1', periodStart: origin, total: 1, reactive: 0 },
      { site: 'dc1', periodStart: origin + day, total: 1, reactive: 1 },
      { site: 'dc2', periodStart: origin, total: 1, reactive: 0 },
    ]);
  });

  it('stores nothing of a unit of work that fails', async () => {
    const uow = sqlUnitOfWork(t.database, (tx) => ({ maintenance: new SqlMaintenanceStore(tx) }));
    await expect(uow.run(async ({ maintenance }) => {
      const rec = await maintenance.addRecommendation(recommendation());
      await maintenance.planRecommendation(rec.id, workOrder({ type: 'predictive' }));
      await maintenance.addWorkOrder(workOrder({ type: 'bogus' as never }));
    })).rejects.toThrow();
    expect(await store.recommendations({ limit: 10 })).toEqual([]);
    expect(await store.workOrders({ limit: 10 })).toEqual([]);
  });
});
