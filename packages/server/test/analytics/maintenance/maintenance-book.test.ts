import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/database.ts';
import { MaintenanceBook, WEEK_MS } from '../../../src/analytics/maintenance/maintenance-book.ts';

const MONDAY = Date.UTC(2025, 5, 2); // 2025-06-02, a Monday
const evidence = { site: 'dc1', asset: 'CHWP-1', point: 'vib', since: MONDAY, at: MONDAY + 1, recentMean: 3, baselineMean: 2, baselineStd: 0.1, zScore: 10, score: 0.8 };

describe('MaintenanceBook', () => {
  it('turns a recommendation into a predictive work order, once', () => {
    let clock = MONDAY;
    const book = new MaintenanceBook({ db: openDatabase(':memory:'), now: () => clock });
    const rec = book.recommend(evidence);
    expect(rec).toMatchObject({ status: 'open', chart: null, workOrderId: null });
    clock += 1000;
    const wo = book.workOrderFromRecommendation(rec.id, 'token:t1');
    expect(wo).toMatchObject({ type: 'predictive', status: 'open', recommendationId: rec.id, point: 'vib', createdBy: 'token:t1' });
    expect(book.recommendation(rec.id)).toMatchObject({ status: 'work-order', workOrderId: wo.id });
    expect(() => book.workOrderFromRecommendation(rec.id, 'token:t1')).toThrow(expect.objectContaining({ code: 'recommendation_closed' }));
    expect(() => book.workOrderFromRecommendation(999, 'token:t1')).toThrow(expect.objectContaining({ code: 'recommendation_not_found' }));
    expect(book.completeWorkOrder(wo.id)).toMatchObject({ status: 'done', doneAt: clock });
  });

  it('refuses operator work orders typed predictive', () => {
    const book = new MaintenanceBook({ db: openDatabase(':memory:') });
    expect(() => book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'predictive', title: 'x' }, 'op'))
      .toThrow(expect.objectContaining({ code: 'work_order_invalid' }));
    expect(book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'planned', title: 'filters' }, 'op')).toMatchObject({ type: 'planned', point: null });
  });

  it('reports the share of reactive work orders per site and week', () => {
    let clock = MONDAY + 3_600_000;
    const book = new MaintenanceBook({ db: openDatabase(':memory:'), now: () => clock });
    book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 'tripped' }, 'op');
    book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 'tripped again' }, 'op');
    book.createWorkOrder({ site: 'dc1', asset: 'B', type: 'planned', title: 'filters' }, 'op');
    book.createWorkOrder({ site: 'dc2', asset: 'C', type: 'planned', title: 'filters' }, 'op');
    clock = MONDAY + WEEK_MS + 5 * 86_400_000; // Saturday of the next week
    book.workOrderFromRecommendation(book.recommend(evidence).id, 'op');
    book.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 'tripped' }, 'op');
    expect(book.reactiveShare()).toEqual([
      { site: 'dc1', periodStart: MONDAY, total: 3, reactive: 2, share: 2 / 3 },
      { site: 'dc1', periodStart: MONDAY + WEEK_MS, total: 2, reactive: 1, share: 0.5 },
      { site: 'dc2', periodStart: MONDAY, total: 1, reactive: 0, share: 0 },
    ]);
    expect(book.reactiveShare({ site: 'dc2' })).toHaveLength(1);
  });

  it('keeps recommendations and work orders across a reopen of the database', () => {
    const file = `/tmp/maint-${process.pid}-${Date.now()}.db`;
    const first = new MaintenanceBook({ db: openDatabase(file) });
    first.recommend(evidence);
    first.createWorkOrder({ site: 'dc1', asset: 'A', type: 'reactive', title: 't' }, 'op');
    const again = new MaintenanceBook({ db: openDatabase(file) });
    expect(again.recommendations()).toHaveLength(1);
    expect(again.workOrders({ type: 'reactive' })).toHaveLength(1);
  });
});
