/**
 * Maintenance recommendations and work orders (issue 4), kept in SQLite.
 *
 * A recommendation is raised by live analytics with its evidence (point, since when, how far from
 * normal, a chart link). Turning it into a work order makes a `predictive` work order; operators
 * also create `planned` (scheduled) and `reactive` (after a failure) ones. The KPI is the share
 * of reactive work orders per site and week: the number the issue wants to see fall.
 */
import { ShellguardError } from '@shellguard/protocol';
import type { SqliteDatabase } from '../../db/database.ts';
import { runMigrations, type Migration } from '../../db/migrations.ts';
import { MINUTE_MS, type RecommendationEvidence } from '../live/live-analytics.ts';

export type MaintenanceErrorCode = 'recommendation_not_found' | 'work_order_not_found' | 'work_order_invalid' | 'recommendation_closed';

export class MaintenanceError extends ShellguardError<MaintenanceErrorCode> {}

export const WORK_ORDER_TYPES = ['planned', 'predictive', 'reactive'] as const;
export type WorkOrderType = (typeof WORK_ORDER_TYPES)[number];
export type WorkOrderStatus = 'open' | 'done';
export type RecommendationStatus = 'open' | 'work-order';

export interface Recommendation extends RecommendationEvidence {
  id: number;
  status: RecommendationStatus;
  /** `/api/v1/points/<id>/samples?from=..&to=..&bucket=<ms>` (60000 by default), or null if the point has no id. */
  chart: string | null;
  workOrderId: number | null;
  createdAt: number;
}

export interface WorkOrder {
  id: number;
  site: string;
  asset: string;
  point: string | null;
  type: WorkOrderType;
  status: WorkOrderStatus;
  title: string;
  recommendationId: number | null;
  createdBy: string;
  createdAt: number;
  doneAt: number | null;
}

export interface WorkOrderInput {
  site: string;
  asset: string;
  point?: string;
  /** Operators create `planned` or `reactive`; `predictive` comes from a recommendation. */
  type: WorkOrderType;
  title: string;
}

export interface ReactiveShare {
  site: string;
  /** Start of the period (Monday 00:00 UTC for weeks). */
  periodStart: number;
  total: number;
  reactive: number;
  /** reactive / total, in [0, 1]. */
  share: number;
}

export interface MaintenanceBookOptions {
  db: SqliteDatabase;
  now?: () => number;
  /** Id of a point for the chart link (the telemetry store's `findPointId`). */
  pointId?: (site: string, asset: string, point: string) => number | undefined;
  /** How much history before `since` the chart shows (default 1 h). */
  chartLeadMs?: number;
  /** Bucket of the chart link, ms: the analytics' bucket (default 60 000). */
  chartBucketMs?: number;
  /** Called after a recommendation is created or changes status (the live event stream). */
  onChanged?: (recommendationId: number) => void;
}

export const WEEK_MS = 7 * 24 * 3_600_000;
/** 1970-01-05T00:00Z, a Monday: weeks start on Mondays (ISO 8601). */
const FIRST_MONDAY = 4 * 24 * 3_600_000;

const MIGRATIONS: Migration[] = [{
  version: 1,
  description: 'maintenance recommendations and work orders',
  up(db) {
    db.exec(`
      CREATE TABLE maintenance_recommendations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        site TEXT NOT NULL, asset TEXT NOT NULL, point TEXT NOT NULL,
        since INTEGER NOT NULL, at INTEGER NOT NULL,
        recent_mean REAL NOT NULL, baseline_mean REAL NOT NULL, baseline_std REAL NOT NULL,
        z_score REAL NOT NULL, score REAL NOT NULL,
        chart TEXT, status TEXT NOT NULL, work_order_id INTEGER, created_at INTEGER NOT NULL
      );
      CREATE INDEX maintenance_recommendations_site ON maintenance_recommendations (site, created_at);
      CREATE TABLE maintenance_work_orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        site TEXT NOT NULL, asset TEXT NOT NULL, point TEXT,
        type TEXT NOT NULL CHECK (type IN ('planned', 'predictive', 'reactive')),
        status TEXT NOT NULL CHECK (status IN ('open', 'done')),
        title TEXT NOT NULL, recommendation_id INTEGER, created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL, done_at INTEGER
      );
      CREATE INDEX maintenance_work_orders_site ON maintenance_work_orders (site, created_at);
    `);
  },
}];

interface RecommendationRow {
  id: number; site: string; asset: string; point: string; since: number; at: number; recent_mean: number;
  baseline_mean: number; baseline_std: number; z_score: number; score: number; chart: string | null;
  status: RecommendationStatus; work_order_id: number | null; created_at: number;
}

interface WorkOrderRow {
  id: number; site: string; asset: string; point: string | null; type: WorkOrderType; status: WorkOrderStatus;
  title: string; recommendation_id: number | null; created_by: string; created_at: number; done_at: number | null;
}

const MAX_TEXT = 200;
const MAX_TITLE = 500;

function toRecommendation(r: RecommendationRow): Recommendation {
  return {
    id: r.id, site: r.site, asset: r.asset, point: r.point, since: r.since, at: r.at, recentMean: r.recent_mean,
    baselineMean: r.baseline_mean, baselineStd: r.baseline_std, zScore: r.z_score, score: r.score, chart: r.chart,
    status: r.status, workOrderId: r.work_order_id, createdAt: r.created_at,
  };
}

function toWorkOrder(r: WorkOrderRow): WorkOrder {
  return {
    id: r.id, site: r.site, asset: r.asset, point: r.point, type: r.type, status: r.status, title: r.title,
    recommendationId: r.recommendation_id, createdBy: r.created_by, createdAt: r.created_at, doneAt: r.done_at,
  };
}

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) {
    throw new MaintenanceError('work_order_invalid', `${field} must be 1-${MAX_TEXT} characters`, { field });
  }
  return value;
}

export class MaintenanceBook {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly pointId: (site: string, asset: string, point: string) => number | undefined;
  private readonly chartLeadMs: number;
  private readonly chartBucketMs: number;
  private readonly onChanged: ((recommendationId: number) => void) | undefined;

  constructor(opts: MaintenanceBookOptions) {
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.pointId = opts.pointId ?? (() => undefined);
    this.chartLeadMs = opts.chartLeadMs ?? 3_600_000;
    this.chartBucketMs = opts.chartBucketMs ?? MINUTE_MS;
    this.onChanged = opts.onChanged;
    runMigrations(this.db, 'maintenance', MIGRATIONS);
  }

  /** Records a recommendation (live analytics' `onSustained`). */
  recommend(e: RecommendationEvidence): Recommendation {
    const id = this.pointId(e.site, e.asset, e.point);
    const chart = id === undefined ? null
      : `/api/v1/points/${id}/samples?from=${e.since - this.chartLeadMs}&to=${e.at + this.chartBucketMs}&bucket=${this.chartBucketMs}`;
    const info = this.db.prepare(`INSERT INTO maintenance_recommendations
      (site, asset, point, since, at, recent_mean, baseline_mean, baseline_std, z_score, score, chart, status, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`).run(
      e.site, e.asset, e.point, e.since, e.at, e.recentMean, e.baselineMean, e.baselineStd, e.zScore, e.score, chart, this.now());
    const rec = this.recommendation(Number(info.lastInsertRowid))!;
    this.onChanged?.(rec.id);
    return rec;
  }

  recommendation(id: number): Recommendation | undefined {
    const row = this.db.prepare('SELECT * FROM maintenance_recommendations WHERE id = ?').get(id) as RecommendationRow | undefined;
    return row && toRecommendation(row);
  }

  /** Newest first. */
  recommendations(filter: { site?: string; status?: RecommendationStatus } = {}): Recommendation[] {
    const rows = this.db.prepare(`SELECT * FROM maintenance_recommendations
      WHERE (@site IS NULL OR site = @site) AND (@status IS NULL OR status = @status) ORDER BY id DESC LIMIT 1000`)
      .all({ site: filter.site ?? null, status: filter.status ?? null }) as RecommendationRow[];
    return rows.map(toRecommendation);
  }

  /** Turns an open recommendation into a predictive work order. */
  workOrderFromRecommendation(recommendationId: number, actor: string, title?: string): WorkOrder {
    const wo = this.db.transaction(() => {
      const rec = this.recommendation(recommendationId);
      if (!rec) throw new MaintenanceError('recommendation_not_found', `no recommendation ${recommendationId}`, { recommendationId });
      if (rec.status !== 'open') {
        throw new MaintenanceError('recommendation_closed', `recommendation ${recommendationId} already has work order ${rec.workOrderId}`,
          { recommendationId, workOrderId: rec.workOrderId });
      }
      const wo = this.insertWorkOrder({
        site: rec.site, asset: rec.asset, point: rec.point, type: 'predictive',
        title: title ?? `Inspect ${rec.asset} ${rec.point}: ${rec.zScore.toFixed(1)} σ from normal since ${new Date(rec.since).toISOString()}`,
      }, actor, recommendationId);
      this.db.prepare(`UPDATE maintenance_recommendations SET status = 'work-order', work_order_id = ? WHERE id = ?`)
        .run(wo.id, recommendationId);
      return wo;
    })();
    this.onChanged?.(recommendationId);
    return wo;
  }

  /** An operator's work order: `planned` or `reactive` (predictive ones come from recommendations). */
  createWorkOrder(input: WorkOrderInput, actor: string): WorkOrder {
    if (input.type !== 'planned' && input.type !== 'reactive') {
      throw new MaintenanceError('work_order_invalid', 'operators create planned or reactive work orders; predictive ones come from a recommendation',
        { type: input.type });
    }
    return this.insertWorkOrder(input, actor, null);
  }

  completeWorkOrder(id: number): WorkOrder {
    this.db.prepare(`UPDATE maintenance_work_orders SET status = 'done', done_at = ? WHERE id = ? AND status = 'open'`)
      .run(this.now(), id);
    const wo = this.workOrder(id);
    if (!wo) throw new MaintenanceError('work_order_not_found', `no work order ${id}`, { workOrderId: id });
    return wo;
  }

  workOrder(id: number): WorkOrder | undefined {
    const row = this.db.prepare('SELECT * FROM maintenance_work_orders WHERE id = ?').get(id) as WorkOrderRow | undefined;
    return row && toWorkOrder(row);
  }

  /** Newest first. */
  workOrders(filter: { site?: string; status?: WorkOrderStatus; type?: WorkOrderType } = {}): WorkOrder[] {
    const rows = this.db.prepare(`SELECT * FROM maintenance_work_orders
      WHERE (@site IS NULL OR site = @site) AND (@status IS NULL OR status = @status) AND (@type IS NULL OR type = @type)
      ORDER BY id DESC LIMIT 1000`)
      .all({ site: filter.site ?? null, status: filter.status ?? null, type: filter.type ?? null }) as WorkOrderRow[];
    return rows.map(toWorkOrder);
  }

  /**
   * Share of reactive work orders per site and period (by creation time; default: ISO weeks,
   * Monday 00:00 UTC), oldest period first. Periods without work orders are absent.
   */
  reactiveShare(filter: { site?: string; from?: number; to?: number; periodMs?: number } = {}): ReactiveShare[] {
    const periodMs = filter.periodMs ?? WEEK_MS;
    const rows = this.db.prepare(`SELECT site,
        CAST((created_at - @origin) / @period AS INTEGER) * @period + @origin AS period_start,
        COUNT(*) AS total, SUM(type = 'reactive') AS reactive
      FROM maintenance_work_orders
      WHERE (@site IS NULL OR site = @site) AND (@from IS NULL OR created_at >= @from) AND (@to IS NULL OR created_at < @to)
        AND created_at >= @origin
      GROUP BY site, period_start ORDER BY site, period_start`)
      .all({
        site: filter.site ?? null, from: filter.from ?? null, to: filter.to ?? null, period: periodMs,
        origin: periodMs === WEEK_MS ? FIRST_MONDAY : 0,
      }) as { site: string; period_start: number; total: number; reactive: number }[];
    return rows.map((r) => ({ site: r.site, periodStart: r.period_start, total: r.total, reactive: r.reactive, share: r.reactive / r.total }));
  }

  private insertWorkOrder(input: WorkOrderInput, actor: string, recommendationId: number | null): WorkOrder {
    const site = checkName('site', input.site);
    const asset = checkName('asset', input.asset);
    const point = input.point === undefined ? null : checkName('point', input.point);
    if (typeof input.title !== 'string' || input.title.trim().length === 0) {
      throw new MaintenanceError('work_order_invalid', 'a work order needs a title', { field: 'title' });
    }
    const info = this.db.prepare(`INSERT INTO maintenance_work_orders
      (site, asset, point, type, status, title, recommendation_id, created_by, created_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)`)
      .run(site, asset, point, input.type, input.title.slice(0, MAX_TITLE), recommendationId, actor, this.now());
    return this.workOrder(Number(info.lastInsertRowid))!;
  }
}
