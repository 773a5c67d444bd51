/** The ProcedureStore port's contract, on every engine (STYLE.md §2). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import type { Deviation, PanelAlert, WorkOrder } from '../../src/procedures/procedure-model.ts';
import { PROCEDURE_MIGRATIONS } from '../../src/procedures/procedure-schema.ts';
import { parseProcedureTemplate } from '../../src/procedures/procedure-template.ts';
import { SqlProcedureStore } from '../../src/procedures/sql-procedure-store.ts';
import { SQL_ENGINES, createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import { SAMPLE_PROCEDURE } from './dmop-fixture.ts';

const template = parseProcedureTemplate(SAMPLE_PROCEDURE);
const order = (site: string, status: WorkOrder['status']): Omit<WorkOrder, 'id'> => ({
  site, procedureId: template.id, version: 1, title: 't', bindings: { source: 'PANEL-1' }, windowStart: 1, windowEnd: 2,
  assignees: ['tom'], createdBy: 'alice', createdAt: 1, approvedBy: null, releasedBy: null, releasedAt: null, status,
  currentStep: 0, stepSince: null, operatedAt: null, hold: null, baseline: {}, updatedAt: 1, endedAt: null, endReason: null,
});
const deviation = (workOrderId: number, over: Partial<Deviation> = {}): Omit<Deviation, 'id'> => ({
  workOrderId, site: 'dc1', panel: 'P', step: 1, kind: 'out-of-order', expected: 'x', observed: 'y', at: 5, incidentId: null,
  acknowledgedBy: null, acknowledgedAt: null, reason: null, ...over,
});
const alert = (site: string, over: Partial<PanelAlert> = {}): Omit<PanelAlert, 'id'> => ({
  site, panel: 'P', kind: 'door-opened-uncovered', point: 'door_open', at: 6, incidentId: 3, silencedBy: null, silencedAt: null, reason: null, ...over,
});
const version = (procedureId: string, createdAt: number) => ({ procedureId, template, source: SAMPLE_PROCEDURE, author: 'alice', createdAt });

/** Another replica's handle on PostgreSQL; on SQLite (one server's file, one connection) the same server's. */
const replica = (t: TestDatabase) => (t.engine === 'postgres' ? t.reopen() : t.database);

describe.each(SQL_ENGINES)('ProcedureStore contract on %s', (engine) => {
  let t: TestDatabase;
  let store: SqlProcedureStore;
  beforeEach(async () => {
    t = await createTestDatabase(engine, 'procedures');
    await runSqlMigrations(t.database, 'procedures', PROCEDURE_MIGRATIONS);
    store = new SqlProcedureStore(t.database.db);
  });
  afterEach(async () => { await t.destroy(); });
  /** The same database through a new handle: what another process or a restart reads. */
  const again = () => new SqlProcedureStore(t.reopen().db);

  describe('procedure versions', () => {
    it('numbers versions per procedure and records their approval', async () => {
      const v1 = await store.addVersion(version(template.id, 10));
      const v2 = await store.addVersion(version(template.id, 20));
      const other = await store.addVersion(version('another', 30));
      expect([v1.version, v2.version, other.version]).toEqual([1, 2, 1]);
      expect(v1).toMatchObject({ approvedBy: null, approvedAt: null, createdAt: 10 });
      await store.approveVersion(template.id, 1, 'maria', 30);
      await store.approveVersion(template.id, 9, 'maria', 30); // no such version: nothing changes
      const reread = again();
      expect(await reread.getVersion(template.id, 1)).toMatchObject({ approvedBy: 'maria', approvedAt: 30, template: { id: template.id }, source: SAMPLE_PROCEDURE });
      expect(await reread.getVersion(template.id, 2)).toMatchObject({ approvedBy: null });
      expect(await reread.getVersion(template.id, 3)).toBeUndefined();
      expect((await reread.versions(template.id)).map((v) => v.version)).toEqual([2, 1]);
      expect((await reread.versions()).map((v) => [v.procedureId, v.version])).toEqual([['another', 1], [template.id, 2], [template.id, 1]]);
      expect(await reread.versions('none')).toEqual([]);
    });

    it('gives parallel writers of one procedure distinct versions, from every replica', async () => {
      const stores = [store, new SqlProcedureStore(replica(t).db), new SqlProcedureStore(replica(t).db)];
      const made = await Promise.all(Array.from({ length: 9 }, (_, i) => stores[i % 3]!.addVersion(version('p', i))));
      expect(made.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect((await store.versions('p')).map((v) => v.version)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    });
  });

  describe('work orders', () => {
    it('stores work orders whole and filters by site, status and activity, newest first', async () => {
      const a = await store.insertWorkOrder(order('dc1', 'draft'));
      const b = await store.insertWorkOrder(order('dc1', 'released'));
      const c = await store.insertWorkOrder(order('dc2', 'completed'));
      const d = await store.insertWorkOrder(order('dc2', 'aborted'));
      expect(b.id).toBeGreaterThan(a.id);
      await store.saveWorkOrder({ ...b, status: 'in-progress', currentStep: 3, hold: { kind: 'deviation', deviationId: 4, since: 9 }, baseline: { 'source.breaker_1_closed': true } });
      const reread = again();
      expect(await reread.getWorkOrder(a.id)).toEqual({ ...order('dc1', 'draft'), id: a.id });
      expect(await reread.getWorkOrder(b.id)).toMatchObject({ status: 'in-progress', currentStep: 3, hold: { deviationId: 4 }, baseline: { 'source.breaker_1_closed': true } });
      expect((await reread.workOrders()).map((w) => w.id)).toEqual([d.id, c.id, b.id, a.id]);
      expect((await reread.workOrders({ site: 'dc1' })).map((w) => w.id)).toEqual([b.id, a.id]);
      expect((await reread.workOrders({ active: true })).map((w) => w.id)).toEqual([b.id, a.id]);
      expect((await reread.workOrders({ status: 'completed' })).map((w) => w.id)).toEqual([c.id]);
      expect((await reread.workOrders({ status: 'in-progress', site: 'dc2' }))).toEqual([]);
      expect((await reread.workOrders({ limit: 2 })).map((w) => w.id)).toEqual([d.id, c.id]);
      expect(await reread.getWorkOrder(9999)).toBeUndefined();
    });

    it('appends the step log in order, per work order, numbering parallel appends apart', async () => {
      const wo = await store.insertWorkOrder(order('dc1', 'released'));
      const other = await store.insertWorkOrder(order('dc1', 'released'));
      await store.appendStepEvent({ workOrderId: wo.id, at: 1, kind: 'released', step: null, actor: 'user:a', detail: {} });
      const e = await store.appendStepEvent({ workOrderId: wo.id, at: 2, kind: 'step-done', step: 0, actor: 'system', detail: { point: 'door_open' } });
      expect(e).toEqual({ workOrderId: wo.id, seq: 2, at: 2, kind: 'step-done', step: 0, actor: 'system', detail: { point: 'door_open' } });
      expect((await store.appendStepEvent({ workOrderId: other.id, at: 3, kind: 'released', step: null, actor: 'system', detail: {} })).seq).toBe(1);
      expect((await store.stepEvents(wo.id)).map((x) => [x.seq, x.kind, x.step, x.detail])).toEqual([[1, 'released', null, {}], [2, 'step-done', 0, { point: 'door_open' }]]);
      const stores = [store, new SqlProcedureStore(replica(t).db)];
      await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % 2]!.appendStepEvent({ workOrderId: other.id, at: 10 + i, kind: 'step-done', step: i, actor: 'system', detail: {} })));
      expect((await store.stepEvents(other.id)).map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await store.stepEvents(9999)).toEqual([]);
    });
  });

  describe('deviations, alerts and site stops', () => {
    it('keeps deviations and alerts open until acknowledged or silenced, and site stops until lifted', async () => {
      const d = await store.insertDeviation(deviation(1));
      const d2 = await store.insertDeviation(deviation(2));
      const al = await store.insertAlert(alert('dc1'));
      const al2 = await store.insertAlert(alert('dc2', { incidentId: null }));
      expect((await store.deviations({ open: true })).map((x) => x.id)).toEqual([d.id, d2.id]);
      expect(await store.deviations({ workOrderId: 2 })).toEqual([{ ...deviation(2), id: d2.id }]);
      await store.saveDeviation({ ...d, acknowledgedBy: 'maria', acknowledgedAt: 7, reason: 'ok' });
      await store.saveAlert({ ...al, silencedBy: 'maria', silencedAt: 8, reason: 'ok' });
      await store.setSiteStop('dc1', { site: 'dc1', by: 'maria', at: 9, reason: 'storm' });
      await store.setSiteStop('dc1', { site: 'dc1', by: 'maria', at: 10, reason: 'storm, again' });
      await store.setSiteStop('ab', { site: 'ab', by: 'tom', at: 11, reason: 'works' });
      const reread = again();
      expect((await reread.deviations({ open: true })).map((x) => x.id)).toEqual([d2.id]);
      expect(await reread.deviations({ open: false })).toEqual([expect.objectContaining({ id: d.id, reason: 'ok' })]);
      expect(await reread.deviations({ workOrderId: 1, open: true })).toEqual([]);
      expect((await reread.alerts({ open: true })).map((x) => x.id)).toEqual([al2.id]);
      expect((await reread.alerts({})).map((x) => x.id)).toEqual([al2.id, al.id]);
      expect((await reread.alerts({ limit: 1 })).map((x) => x.id)).toEqual([al2.id]);
      expect(await reread.alerts({ site: 'dc1' })).toEqual([expect.objectContaining({ silencedBy: 'maria', incidentId: 3 })]);
      expect(await reread.alerts({ site: 'dc1', open: true })).toEqual([]);
      expect(await reread.siteStops()).toEqual([{ site: 'ab', by: 'tom', at: 11, reason: 'works' }, { site: 'dc1', by: 'maria', at: 10, reason: 'storm, again' }]);
      await reread.setSiteStop('dc1', null);
      await reread.setSiteStop('nowhere', null);
      expect((await reread.siteStops()).map((s) => s.site)).toEqual(['ab']);
    });
  });

  it('stores nothing of a unit of work that fails', async () => {
    const uow = sqlUnitOfWork(t.database, (tx) => new SqlProcedureStore(tx));
    await expect(uow.run(async (s) => {
      await s.addVersion(version(template.id, 1));
      const wo = await s.insertWorkOrder(order('dc1', 'released'));
      await s.appendStepEvent({ workOrderId: wo.id, at: 1, kind: 'released', step: null, actor: 'user:a', detail: {} });
      await s.insertDeviation(deviation(wo.id));
      await s.insertAlert(alert('dc1'));
      await s.setSiteStop('dc1', { site: 'dc1', by: 'maria', at: 9, reason: 'storm' });
      throw new Error('fails half-way');
    })).rejects.toThrow('half-way');
    expect(await store.versions()).toEqual([]);
    expect(await store.workOrders()).toEqual([]);
    expect(await store.deviations({})).toEqual([]);
    expect(await store.alerts({})).toEqual([]);
    expect(await store.siteStops()).toEqual([]);
  });
});
