/**
 * Maintenance recommendations and work orders (issue 4), kept behind a {@link MaintenanceStore}.
 *
 * A recommendation is raised by live analytics with its evidence (point, since when, how far from
 * normal, a chart link). Turning it into a work order makes a `predictive` work order; operators
 * also create `planned` (scheduled) and `reactive` (after a failure) ones. The KPI is the share
 * of reactive work orders per site and week: the number the issue wants to see fall.
 *
 * The book keeps nothing in memory: every read goes to the store, so replicas sharing one
 * PostgreSQL see the same book.
 */
import { MINUTE_MS, type RecommendationEvidence } from '../live/live-analytics.ts';
import {
  MaintenanceError, type ReactiveShare, type Recommendation, type RecommendationStatus, type WorkOrder, type WorkOrderInput,
  type WorkOrderStatus, type WorkOrderType,
} from './maintenance.ts';
import type { MaintenanceStore, NewWorkOrder } from './maintenance-store.ts';

export {
  MaintenanceError, WORK_ORDER_TYPES, type MaintenanceErrorCode, type ReactiveShare, type Recommendation, type RecommendationStatus,
  type WorkOrder, type WorkOrderInput, type WorkOrderStatus, type WorkOrderType,
} from './maintenance.ts';

export interface MaintenanceBookOptions {
  store: MaintenanceStore;
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

const MAX_TEXT = 200;
const MAX_TITLE = 500;
/** The most rows a list returns. */
const MAX_LIST = 1000;

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) {
    throw new MaintenanceError('work_order_invalid', `${field} must be 1-${MAX_TEXT} characters`, { field });
  }
  return value;
}

/** The points an asset-level title names: the largest shares, at most three. */
const TITLE_MOVES = 3;

/** "Inspect AHU-3 fan_vibration: 4.2 σ from normal since …"; asset-level: the points that moved together. */
function defaultTitle(rec: Recommendation): string {
  const since = new Date(rec.since).toISOString();
  if (rec.method === 'asset' && rec.moves && rec.moves.length > 0) {
    const named = rec.moves.slice(0, TITLE_MOVES).map((m) => `${m.point} ${m.z >= 0 ? '+' : ''}${m.z.toFixed(1)} σ`).join(', ');
    return `Inspect ${rec.asset}: its points moved together (${named}) since ${since}`;
  }
  return `Inspect ${rec.asset} ${rec.point}: ${rec.zScore.toFixed(1)} σ from normal since ${since}`;
}

export class MaintenanceBook {
  private readonly store: MaintenanceStore;
  private readonly now: () => number;
  private readonly pointId: (site: string, asset: string, point: string) => number | undefined;
  private readonly chartLeadMs: number;
  private readonly chartBucketMs: number;
  private readonly onChanged: ((recommendationId: number) => void) | undefined;

  constructor(opts: MaintenanceBookOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.pointId = opts.pointId ?? (() => undefined);
    this.chartLeadMs = opts.chartLeadMs ?? 3_600_000;
    this.chartBucketMs = opts.chartBucketMs ?? MINUTE_MS;
    this.onChanged = opts.onChanged;
  }

  /** Records a recommendation (live analytics' `onSustained`). */
  async recommend(e: RecommendationEvidence): Promise<Recommendation> {
    const id = this.pointId(e.site, e.asset, e.point);
    const chart = id === undefined ? null
      : `/api/v1/points/${id}/samples?from=${e.since - this.chartLeadMs}&to=${e.at + this.chartBucketMs}&bucket=${this.chartBucketMs}`;
    const rec = await this.store.addRecommendation({
      site: e.site, asset: e.asset, point: e.point, since: e.since, at: e.at, recentMean: e.recentMean, baselineMean: e.baselineMean,
      baselineStd: e.baselineStd, zScore: e.zScore, score: e.score, chart, createdAt: this.now(),
      method: e.method ?? 'point', ...(e.method === 'asset' && e.moves ? { moves: e.moves } : {}),
    });
    this.onChanged?.(rec.id);
    return rec;
  }

  recommendation(id: number): Promise<Recommendation | undefined> {
    return this.store.recommendation(id);
  }

  /** Newest first. */
  recommendations(filter: { site?: string; status?: RecommendationStatus } = {}): Promise<Recommendation[]> {
    return this.store.recommendations({ site: filter.site, status: filter.status, limit: MAX_LIST });
  }

  /** Turns an open recommendation into a predictive work order (once, across replicas too). */
  async workOrderFromRecommendation(recommendationId: number, actor: string, title?: string): Promise<WorkOrder> {
    const rec = await this.store.recommendation(recommendationId);
    if (!rec) throw new MaintenanceError('recommendation_not_found', `no recommendation ${recommendationId}`, { recommendationId });
    if (rec.status !== 'open') {
      throw new MaintenanceError('recommendation_closed', `recommendation ${recommendationId} already has work order ${rec.workOrderId}`,
        { recommendationId, workOrderId: rec.workOrderId });
    }
    // The evidence never changes once recorded, so the title made from it stays right; the store
    // checks again that the recommendation is open when it links the work order.
    const wo = await this.store.planRecommendation(recommendationId, this.checkWorkOrder({
      site: rec.site, asset: rec.asset, ...(rec.method === 'point' ? { point: rec.point } : {}), type: 'predictive',
      title: title ?? defaultTitle(rec),
    }, actor, recommendationId));
    this.onChanged?.(recommendationId);
    return wo;
  }

  /** An operator's work order: `planned` or `reactive` (predictive ones come from recommendations). */
  async createWorkOrder(input: WorkOrderInput, actor: string): Promise<WorkOrder> {
    if (input.type !== 'planned' && input.type !== 'reactive') {
      throw new MaintenanceError('work_order_invalid', 'operators create planned or reactive work orders; predictive ones come from a recommendation',
        { type: input.type });
    }
    return this.store.addWorkOrder(this.checkWorkOrder(input, actor, null));
  }

  async completeWorkOrder(id: number): Promise<WorkOrder> {
    const wo = await this.store.completeWorkOrder(id, this.now());
    if (!wo) throw new MaintenanceError('work_order_not_found', `no work order ${id}`, { workOrderId: id });
    return wo;
  }

  workOrder(id: number): Promise<WorkOrder | undefined> {
    return this.store.workOrder(id);
  }

  /** Newest first. */
  workOrders(filter: { site?: string; status?: WorkOrderStatus; type?: WorkOrderType } = {}): Promise<WorkOrder[]> {
    return this.store.workOrders({ site: filter.site, status: filter.status, type: filter.type, limit: MAX_LIST });
  }

  /**
   * Share of reactive work orders per site and period (by creation time; default: ISO weeks,
   * Monday 00:00 UTC), oldest period first. Periods without work orders are absent.
   */
  async reactiveShare(filter: { site?: string; from?: number; to?: number; periodMs?: number } = {}): Promise<ReactiveShare[]> {
    const periodMs = filter.periodMs ?? WEEK_MS;
    const rows = await this.store.countByPeriod({
      site: filter.site, from: filter.from, to: filter.to, periodMs, origin: periodMs === WEEK_MS ? FIRST_MONDAY : 0,
    });
    return rows.map((r) => ({ site: r.site, periodStart: r.periodStart, total: r.total, reactive: r.reactive, share: r.reactive / r.total }));
  }

  private checkWorkOrder(input: WorkOrderInput, actor: string, recommendationId: number | null): NewWorkOrder {
    const site = checkName('site', input.site);
    const asset = checkName('asset', input.asset);
    const point = input.point === undefined ? null : checkName('point', input.point);
    if (typeof input.title !== 'string' || input.title.trim().length === 0) {
      throw new MaintenanceError('work_order_invalid', 'a work order needs a title', { field: 'title' });
    }
    return {
      site, asset, point, type: input.type, title: input.title.slice(0, MAX_TITLE), recommendationId, createdBy: actor, createdAt: this.now(),
    };
  }
}
