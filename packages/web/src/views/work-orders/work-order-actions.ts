/**
 * What can be done to a DMOP work order through its life (procedure-routes.ts): a manager other
 * than its creator approves a draft, a planner releases it to its panels, an assigned technician
 * starts it (the first step seen at the panel starts it too), a planner aborts it with a reason.
 * Each action says when it applies and who may take it, so the views offer only what the server
 * would accept.
 */
import type { DmopWorkOrder, SessionUser } from '../../app/api-types.ts';
import { isWorker, mayApprove, mayDmop } from '../panels/dmop-roles.ts';
import { dmopApi } from './dmop-api.ts';

export const WORK_ORDER_ACTIONS = ['approve', 'release', 'start', 'abort'] as const;
export type WorkOrderAction = (typeof WORK_ORDER_ACTIONS)[number];

export interface WorkOrderActionSpec {
  label: string;
  /** What the dialog says the action does. */
  explanation: (wo: DmopWorkOrder) => string;
  /** A reason is required (and sent as `{reason}`). */
  reason?: string;
  danger?: boolean;
  applies(wo: DmopWorkOrder, now: number): boolean;
  allowed(user: SessionUser | null, wo: DmopWorkOrder): boolean;
}

const panelsOf = (wo: DmopWorkOrder) => Object.values(wo.bindings).join(', ');

export const WORK_ORDER_ACTION_SPECS: Record<WorkOrderAction, WorkOrderActionSpec> = {
  approve: {
    label: 'Approve',
    explanation: (wo) => `Approve "${wo.title}" on ${panelsOf(wo)}, created by ${wo.createdBy}. Two-person rule: you cannot approve a work order you created.`,
    applies: (wo) => wo.status === 'draft',
    allowed: mayApprove,
  },
  release: {
    label: 'Release to panels',
    explanation: (wo) => `Release "${wo.title}" to ${panelsOf(wo)}: their towers show "released", opening them is covered during the window, and only the alarms the procedure expects are suppressed.`,
    applies: (wo, now) => wo.status === 'approved' && wo.windowEnd > now,
    allowed: (user) => mayDmop(user?.role, 'work-order.release'),
  },
  start: {
    label: 'Start work',
    explanation: (wo) => `Start "${wo.title}". Opening the panel for step 1 starts it as well.`,
    applies: (wo, now) => wo.status === 'released' && wo.windowStart <= now,
    allowed: isWorker,
  },
  abort: {
    label: 'Abort',
    explanation: (wo) => `Abort "${wo.title}". It cannot be resumed; a new work order would be needed. The panels go back to idle.`,
    reason: 'Why it is aborted',
    danger: true,
    applies: (wo) => wo.status !== 'completed' && wo.status !== 'aborted',
    allowed: (user) => mayDmop(user?.role, 'work-order.abort'),
  },
};

export function actionPath(id: number, action: WorkOrderAction): string {
  return dmopApi.action(id, action);
}

/** The actions this user may take on this work order now, in their natural order. */
export function availableActions(user: SessionUser | null, wo: DmopWorkOrder, now: number): WorkOrderAction[] {
  return WORK_ORDER_ACTIONS.filter((a) => WORK_ORDER_ACTION_SPECS[a].applies(wo, now) && WORK_ORDER_ACTION_SPECS[a].allowed(user, wo));
}
