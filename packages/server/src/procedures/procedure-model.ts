/**
 * The records of the procedures domain (ARCHITECTURE.md §4): procedure versions with their
 * approval, DMOP work orders, the step log, deviations, panel security alerts and site stops.
 */
import type { ProcedureTemplate } from './procedure-template.ts';

export interface ProcedureVersion {
  procedureId: string;
  /** 1, 2, 3, ... per procedure id; a new version needs approval again. */
  version: number;
  template: ProcedureTemplate;
  /** The YAML as submitted, kept for review. */
  source: string;
  author: string;
  createdAt: number;
  /** Two-person rule: someone other than the author. */
  approvedBy: string | null;
  approvedAt: number | null;
}

export const WORK_ORDER_STATUSES = ['draft', 'approved', 'released', 'in-progress', 'completed', 'aborted'] as const;
export type WorkOrderStatus = (typeof WORK_ORDER_STATUSES)[number];

/** Why work is held: a deviation a manager must acknowledge. (A site stop is a site's state.) */
export interface WorkOrderHold {
  kind: 'deviation';
  deviationId: number;
  since: number;
}

export interface WorkOrder {
  id: number;
  site: string;
  procedureId: string;
  version: number;
  title: string;
  /** Template role → asset id at this site (panels and other assets). */
  bindings: Record<string, string>;
  windowStart: number;
  windowEnd: number;
  /** Usernames of the technicians who do the work. */
  assignees: string[];
  createdBy: string;
  createdAt: number;
  approvedBy: string | null;
  releasedBy: string | null;
  releasedAt: number | null;
  status: WorkOrderStatus;
  /** 0-based index of the current step; equals the step count when all are done. */
  currentStep: number;
  /** When the current step became current (for verification deadlines and the display). */
  stepSince: number | null;
  /** Set after an operate step's operation while its expected changes are awaited. */
  operatedAt: number | null;
  hold: WorkOrderHold | null;
  /** Breaker states seen at release, the baseline the procedure's operations are judged from. */
  baseline: Record<string, boolean>;
  updatedAt: number;
  endedAt: number | null;
  endReason: string | null;
}

export type StepEventKind =
  | 'created' | 'approved' | 'released' | 'started' | 'step-done' | 'confirmed' | 'observed'
  | 'deviation' | 'acknowledged' | 'paused' | 'resumed' | 'completed' | 'aborted';

/** One line of a work order's step log: what happened, who or what did it, and what the panel showed. */
export interface StepEvent {
  workOrderId: number;
  seq: number;
  at: number;
  kind: StepEventKind;
  /** Step index concerned (0-based), if any. */
  step: number | null;
  actor: string;
  detail: Record<string, unknown>;
}

export const DEVIATION_KINDS = [
  /** A later step's action happened before the current step was done (a step skipped). */
  'out-of-order',
  /** A breaker or switch operated that no step of the procedure operates. */
  'unexpected-operation',
  /** The panel door closed (or opened) away from what the procedure needs now. */
  'door-unexpected',
  /** A verification condition did not hold in time (e.g. voltage still present). */
  'verification-failed',
  /** An operation did not cause the expected changes in time. */
  'expectation-failed',
  /** A panel was worked on while the site was stopped. */
  'work-during-stop',
] as const;
export type DeviationKind = (typeof DEVIATION_KINDS)[number];

export interface Deviation {
  id: number;
  workOrderId: number;
  site: string;
  panel: string;
  step: number;
  kind: DeviationKind;
  /** What the current step expected, for the technician and the review. */
  expected: string;
  /** What the panel or the power monitoring points showed. */
  observed: string;
  at: number;
  incidentId: number | null;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  reason: string | null;
}

export type PanelAlertKind = 'door-opened-uncovered' | 'breaker-operated-uncovered';

/** A security alert: a panel opened or operated that no released work order covers. */
export interface PanelAlert {
  id: number;
  site: string;
  panel: string;
  kind: PanelAlertKind;
  point: string;
  at: number;
  incidentId: number | null;
  silencedBy: string | null;
  silencedAt: number | null;
  reason: string | null;
}

/** A manager stopped all work at a site. */
export interface SiteStop {
  site: string;
  by: string;
  at: number;
  reason: string;
}
