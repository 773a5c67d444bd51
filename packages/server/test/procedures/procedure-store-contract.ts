/**
 * The contract of the ProcedureStore port: every implementation (SQLite today, PostgreSQL next)
 * runs this suite.
 */
import { describe, expect, it } from 'vitest';
import type { ProcedureStore } from '../../src/procedures/procedure-store.ts';
import type { WorkOrder } from '../../src/procedures/procedure-model.ts';
import { parseProcedureTemplate } from '../../src/procedures/procedure-template.ts';
import { SAMPLE_PROCEDURE } from './dmop-fixture.ts';

const template = parseProcedureTemplate(SAMPLE_PROCEDURE);
const order = (site: string, status: WorkOrder['status']): Omit<WorkOrder, 'id'> => ({
  site, procedureId: template.id, version: 1, title: 't', bindings: { source: 'PANEL-1' }, windowStart: 1, windowEnd: 2,
  assignees: ['tom'], createdBy: 'alice', createdAt: 1, approvedBy: null, releasedBy: null, releasedAt: null, status,
  currentStep: 0, stepSince: null, operatedAt: null, hold: null, baseline: {}, updatedAt: 1, endedAt: null, endReason: null,
});

export function describeProcedureStoreContract(name: string, open: () => Promise<{ store: ProcedureStore; reopen(): Promise<ProcedureStore> }>): void {
  describe(`ProcedureStore contract: ${name}`, () => {
    it('numbers versions per procedure and records their approval', async () => {
      const { store, reopen } = await open();
      const v1 = await store.addVersion({ procedureId: template.id, template, source: SAMPLE_PROCEDURE, author: 'alice', createdAt: 10 });
      const v2 = await store.addVersion({ procedureId: template.id, template, source: SAMPLE_PROCEDURE, author: 'alice', createdAt: 20 });
      expect([v1.version, v2.version]).toEqual([1, 2]);
      await store.approveVersion(template.id, 1, 'maria', 30);
      const again = await reopen();
      expect(await again.getVersion(template.id, 1)).toMatchObject({ approvedBy: 'maria', approvedAt: 30, template: { id: template.id } });
      expect((await again.versions(template.id)).map((v) => v.version)).toEqual([2, 1]);
      expect(await again.getVersion(template.id, 3)).toBeUndefined();
    });

    it('stores work orders whole and filters by site, status and activity, newest first', async () => {
      const { store, reopen } = await open();
      const a = await store.insertWorkOrder(order('dc1', 'draft'));
      const b = await store.insertWorkOrder(order('dc1', 'released'));
      const c = await store.insertWorkOrder(order('dc2', 'completed'));
      await store.saveWorkOrder({ ...b, status: 'in-progress', currentStep: 3, hold: { kind: 'deviation', deviationId: 4, since: 9 }, baseline: { 'source.breaker_1_closed': true } });
      const again = await reopen();
      expect(await again.getWorkOrder(b.id)).toMatchObject({ status: 'in-progress', currentStep: 3, hold: { deviationId: 4 }, baseline: { 'source.breaker_1_closed': true } });
      expect((await again.workOrders({ site: 'dc1' })).map((w) => w.id)).toEqual([b.id, a.id]);
      expect((await again.workOrders({ active: true })).map((w) => w.id)).toEqual([b.id, a.id]);
      expect((await again.workOrders({ status: 'completed' })).map((w) => w.id)).toEqual([c.id]);
      expect(await again.getWorkOrder(9999)).toBeUndefined();
    });

    it('appends the step log in order, per work order', async () => {
      const { store } = await open();
      const wo = await store.insertWorkOrder(order('dc1', 'released'));
      await store.appendStepEvent({ workOrderId: wo.id, at: 1, kind: 'released', step: null, actor: 'user:a', detail: {} });
      const e = await store.appendStepEvent({ workOrderId: wo.id, at: 2, kind: 'step-done', step: 0, actor: 'system', detail: { point: 'door_open' } });
      expect(e.seq).toBe(2);
      expect((await store.stepEvents(wo.id)).map((x) => [x.seq, x.kind, x.detail])).toEqual([[1, 'released', {}], [2, 'step-done', { point: 'door_open' }]]);
    });

    it('keeps deviations and alerts open until acknowledged or silenced, and site stops until lifted', async () => {
      const { store, reopen } = await open();
      const d = await store.insertDeviation({ workOrderId: 1, site: 'dc1', panel: 'P', step: 1, kind: 'out-of-order', expected: 'x', observed: 'y', at: 5, incidentId: null, acknowledgedBy: null, acknowledgedAt: null, reason: null });
      const al = await store.insertAlert({ site: 'dc1', panel: 'P', kind: 'door-opened-uncovered', point: 'door_open', at: 6, incidentId: 3, silencedBy: null, silencedAt: null, reason: null });
      expect((await store.deviations({ open: true })).map((x) => x.id)).toEqual([d.id]);
      await store.saveDeviation({ ...d, acknowledgedBy: 'maria', acknowledgedAt: 7, reason: 'ok' });
      await store.saveAlert({ ...al, silencedBy: 'maria', silencedAt: 8, reason: 'ok' });
      await store.setSiteStop('dc1', { site: 'dc1', by: 'maria', at: 9, reason: 'storm' });
      const again = await reopen();
      expect(await again.deviations({ open: true })).toEqual([]);
      expect(await again.deviations({ workOrderId: 1 })).toEqual([expect.objectContaining({ reason: 'ok' })]);
      expect(await again.alerts({ open: true })).toEqual([]);
      expect(await again.alerts({ site: 'dc1' })).toEqual([expect.objectContaining({ silencedBy: 'maria', incidentId: 3 })]);
      expect(await again.siteStops()).toEqual([{ site: 'dc1', by: 'maria', at: 9, reason: 'storm' }]);
      await again.setSiteStop('dc1', null);
      expect(await again.siteStops()).toEqual([]);
    });
  });
}
