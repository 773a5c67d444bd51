/**
 * The maintenance book's tables on either engine, through kysely (issue 12). Recommendations and
 * work orders get their ids from the database (identity / rowid), and planning a recommendation is
 * one conditional UPDATE inside the transaction that stores its work order, so two replicas can
 * never both plan it.
 */
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';
import { inTransaction, type SqlExecutor } from '../../db/sql-database.ts';
import type { PointMove } from '../detectors/multivariate.ts';
import type { RecommendationMethod } from '../live/live-analytics.ts';
import { MaintenanceError, type Recommendation, type RecommendationStatus, type WorkOrder, type WorkOrderStatus, type WorkOrderType } from './maintenance.ts';
import type {
  MaintenanceStore, NewRecommendation, NewWorkOrder, PeriodCount, ReactiveShareQuery, RecommendationFilter, WorkOrderFilter,
} from './maintenance-store.ts';

interface RecommendationTable {
  id: Generated<number>;
  site: string;
  asset: string;
  point: string;
  since: number;
  at: number;
  recent_mean: number;
  baseline_mean: number;
  baseline_std: number;
  z_score: number;
  score: number;
  chart: string | null;
  status: RecommendationStatus;
  work_order_id: number | null;
  created_at: number;
  /** Migration 2: rows stored before it read `point`. */
  method: Generated<RecommendationMethod>;
  /** JSON array of PointMove, or null (point-level). */
  moves: string | null;
}

interface WorkOrderTable {
  id: Generated<number>;
  site: string;
  asset: string;
  point: string | null;
  type: WorkOrderType;
  status: WorkOrderStatus;
  title: string;
  recommendation_id: number | null;
  created_by: string;
  created_at: number;
  done_at: number | null;
}

interface MaintenanceTables {
  maintenance_recommendations: RecommendationTable;
  maintenance_work_orders: WorkOrderTable;
}

type MaintenanceDb = Kysely<MaintenanceTables>;

function toRecommendation(r: Selectable<RecommendationTable>): Recommendation {
  return {
    id: r.id, site: r.site, asset: r.asset, point: r.point, since: r.since, at: r.at, recentMean: r.recent_mean,
    baselineMean: r.baseline_mean, baselineStd: r.baseline_std, zScore: r.z_score, score: r.score, chart: r.chart,
    status: r.status, workOrderId: r.work_order_id, createdAt: r.created_at,
    method: r.method, moves: r.moves === null ? null : JSON.parse(r.moves) as PointMove[],
  };
}

function toWorkOrder(r: Selectable<WorkOrderTable>): WorkOrder {
  return {
    id: r.id, site: r.site, asset: r.asset, point: r.point, type: r.type, status: r.status, title: r.title,
    recommendationId: r.recommendation_id, createdBy: r.created_by, createdAt: r.created_at, doneAt: r.done_at,
  };
}

async function insertWorkOrder(db: MaintenanceDb, w: NewWorkOrder): Promise<WorkOrder> {
  const row = await db.insertInto('maintenance_work_orders').values({
    site: w.site, asset: w.asset, point: w.point, type: w.type, status: 'open', title: w.title,
    recommendation_id: w.recommendationId, created_by: w.createdBy, created_at: w.createdAt,
  }).returningAll().executeTakeFirstOrThrow();
  return toWorkOrder(row);
}

export class SqlMaintenanceStore implements MaintenanceStore {
  private readonly db: MaintenanceDb;

  constructor(exec: SqlExecutor) {
    this.db = exec as MaintenanceDb;
  }

  async addRecommendation(r: NewRecommendation): Promise<Recommendation> {
    const row = await this.db.insertInto('maintenance_recommendations').values({
      site: r.site, asset: r.asset, point: r.point, since: r.since, at: r.at, recent_mean: r.recentMean,
      baseline_mean: r.baselineMean, baseline_std: r.baselineStd, z_score: r.zScore, score: r.score, chart: r.chart,
      status: 'open', created_at: r.createdAt, method: r.method ?? 'point', moves: r.moves === undefined ? null : JSON.stringify(r.moves),
    }).returningAll().executeTakeFirstOrThrow();
    return toRecommendation(row);
  }

  async recommendation(id: number): Promise<Recommendation | undefined> {
    const row = await this.db.selectFrom('maintenance_recommendations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecommendation(row);
  }

  async recommendations(filter: RecommendationFilter): Promise<Recommendation[]> {
    let q = this.db.selectFrom('maintenance_recommendations').selectAll();
    if (filter.site !== undefined) q = q.where('site', '=', filter.site);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toRecommendation);
  }

  addWorkOrder(w: NewWorkOrder): Promise<WorkOrder> {
    return insertWorkOrder(this.db, w);
  }

  planRecommendation(recommendationId: number, w: NewWorkOrder): Promise<WorkOrder> {
    return inTransaction(this.db, async (exec) => {
      const tx = exec as MaintenanceDb;
      const wo = await insertWorkOrder(tx, { ...w, recommendationId });
      // The status check and the link are one statement: a concurrent planner's UPDATE waits for
      // this one's row lock, then finds the recommendation no longer open.
      const linked = await tx.updateTable('maintenance_recommendations').set({ status: 'work-order', work_order_id: wo.id })
        .where('id', '=', recommendationId).where('status', '=', 'open').executeTakeFirst();
      if (Number(linked.numUpdatedRows) === 1) return wo;
      const rec = await tx.selectFrom('maintenance_recommendations').select('work_order_id').where('id', '=', recommendationId).executeTakeFirst();
      if (!rec) throw new MaintenanceError('recommendation_not_found', `no recommendation ${recommendationId}`, { recommendationId });
      throw new MaintenanceError('recommendation_closed', `recommendation ${recommendationId} already has work order ${rec.work_order_id}`,
        { recommendationId, workOrderId: rec.work_order_id });
    });
  }

  async completeWorkOrder(id: number, at: number): Promise<WorkOrder | undefined> {
    const done = await this.db.updateTable('maintenance_work_orders').set({ status: 'done', done_at: at })
      .where('id', '=', id).where('status', '=', 'open').returningAll().executeTakeFirst();
    return done ? toWorkOrder(done) : this.workOrder(id);
  }

  async workOrder(id: number): Promise<WorkOrder | undefined> {
    const row = await this.db.selectFrom('maintenance_work_orders').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toWorkOrder(row);
  }

  async workOrders(filter: WorkOrderFilter): Promise<WorkOrder[]> {
    let q = this.db.selectFrom('maintenance_work_orders').selectAll();
    if (filter.site !== undefined) q = q.where('site', '=', filter.site);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.type !== undefined) q = q.where('type', '=', filter.type);
    const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toWorkOrder);
  }

  async countByPeriod(query: ReactiveShareQuery): Promise<PeriodCount[]> {
    const { origin, periodMs } = query;
    // Whole periods since `origin`; the CAST keeps SQLite's division integral whatever the
    // parameters' types. Grouped and ordered by the output column's name: PostgreSQL would not
    // see the same expression with fresh parameters as the selected one.
    let q = this.db.selectFrom('maintenance_work_orders')
      .select([
        'site',
        sql<number>`CAST((created_at - ${origin}) / ${periodMs} AS BIGINT) * ${periodMs} + ${origin}`.as('period_start'),
        (eb) => eb.fn.countAll<number>().as('total'),
        sql<number>`SUM(CASE WHEN type = 'reactive' THEN 1 ELSE 0 END)`.as('reactive'),
      ])
      .where('created_at', '>=', origin);
    if (query.site !== undefined) q = q.where('site', '=', query.site);
    if (query.from !== undefined) q = q.where('created_at', '>=', query.from);
    if (query.to !== undefined) q = q.where('created_at', '<', query.to);
    const rows = await q.groupBy(['site', sql.ref('period_start')]).orderBy('site').orderBy(sql.ref('period_start')).execute();
    return rows.map((r) => ({ site: r.site, periodStart: Number(r.period_start), total: Number(r.total), reactive: Number(r.reactive) }));
  }
}
