/**
 * The maintenance book's persistence port (issue 12): recommendations, work orders and the
 * reactive-share query, async so PostgreSQL can hold them. Implemented by sql-maintenance-store.ts.
 */
import type { RecommendationEvidence } from '../live/live-analytics.ts';
import type { Recommendation, RecommendationStatus, WorkOrder, WorkOrderStatus, WorkOrderType } from './maintenance.ts';

export interface NewRecommendation extends RecommendationEvidence {
  chart: string | null;
  createdAt: number;
}

/** A work order as the book has checked it; the store gives it its id, status `open`. */
export interface NewWorkOrder {
  site: string;
  asset: string;
  point: string | null;
  type: WorkOrderType;
  title: string;
  recommendationId: number | null;
  createdBy: string;
  createdAt: number;
}

export interface RecommendationFilter {
  site?: string | undefined;
  status?: RecommendationStatus | undefined;
  limit: number;
}

export interface WorkOrderFilter {
  site?: string | undefined;
  status?: WorkOrderStatus | undefined;
  type?: WorkOrderType | undefined;
  limit: number;
}

export interface ReactiveShareQuery {
  site?: string | undefined;
  /** Created at or after (ms). */
  from?: number | undefined;
  /** Created before (ms). */
  to?: number | undefined;
  periodMs: number;
  /** Periods start at `origin + k * periodMs`; work orders created before `origin` are left out. */
  origin: number;
}

/** Work orders of one site in one period. */
export interface PeriodCount {
  site: string;
  periodStart: number;
  total: number;
  reactive: number;
}

export interface MaintenanceStore {
  /** Stores an open recommendation and returns it with its id. */
  addRecommendation(recommendation: NewRecommendation): Promise<Recommendation>;
  recommendation(id: number): Promise<Recommendation | undefined>;
  /** Newest first (by id). */
  recommendations(filter: RecommendationFilter): Promise<Recommendation[]>;
  addWorkOrder(workOrder: NewWorkOrder): Promise<WorkOrder>;
  /**
   * Atomically stores `workOrder` and links the recommendation to it, only while the
   * recommendation is still open: refuses with MaintenanceError `recommendation_not_found` or
   * `recommendation_closed` (storing nothing), also when another replica planned it first.
   */
  planRecommendation(recommendationId: number, workOrder: NewWorkOrder): Promise<WorkOrder>;
  /** Marks an open work order done at `at` (a done one keeps its time); undefined when there is none. */
  completeWorkOrder(id: number, at: number): Promise<WorkOrder | undefined>;
  workOrder(id: number): Promise<WorkOrder | undefined>;
  /** Newest first (by id). */
  workOrders(filter: WorkOrderFilter): Promise<WorkOrder[]>;
  /** Work orders per site and period by creation time, by site then oldest period first; empty periods absent. */
  countByPeriod(query: ReactiveShareQuery): Promise<PeriodCount[]>;
}
