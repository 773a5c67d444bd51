/**
 * What maintenance recommendations and work orders are (issue 4), as the book, its store and the
 * API see them.
 */
import { ShellguardError } from '@shellguard/protocol';
import type { PointMove } from '../detectors/multivariate.ts';
import type { RecommendationEvidence, RecommendationMethod } from '../live/live-analytics.ts';

export type MaintenanceErrorCode = 'recommendation_not_found' | 'work_order_not_found' | 'work_order_invalid' | 'recommendation_closed';

export class MaintenanceError extends ShellguardError<MaintenanceErrorCode> {}

export const WORK_ORDER_TYPES = ['planned', 'predictive', 'reactive'] as const;
export type WorkOrderType = (typeof WORK_ORDER_TYPES)[number];
export type WorkOrderStatus = 'open' | 'done';
export type RecommendationStatus = 'open' | 'work-order';

export interface Recommendation extends Omit<RecommendationEvidence, 'method' | 'moves'> {
  id: number;
  method: RecommendationMethod;
  /** Asset-level: which points moved, by how much against their learned normal (see RecommendationEvidence); null for point-level ones. */
  moves: PointMove[] | null;
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
