/**
 * Who may do what in the digital methods of procedure, as the server's procedures domain checks
 * it (panel-supervisor.ts PLANNER_ROLES and MANAGER_ROLES, requireWorker; procedure-library.ts
 * AUTHOR_ROLES). These are domain rules, checked in the domain rather than by route, so they are
 * kept here beside the views instead of in app/permissions.ts. The UI only hides what would be
 * refused; the server decides.
 */
import type { DmopWorkOrder, ProcedureStep, Role, SessionUser } from '../../app/api-types.ts';

/** Plan, release and abort work (panel-supervisor.ts PLANNER_ROLES). */
const PLANNERS: readonly Role[] = ['admin', 'engineer', 'manager'];
/** Approve work orders, acknowledge deviations, silence alerts, stop and resume sites (MANAGER_ROLES). */
const MANAGERS: readonly Role[] = ['admin', 'manager'];

export const DMOP_CAPABILITIES = {
  'work-order.create': PLANNERS,
  'work-order.approve': MANAGERS,
  'work-order.release': PLANNERS,
  'work-order.abort': PLANNERS,
  'deviation.acknowledge': MANAGERS,
  'panel-alert.silence': MANAGERS,
  'site.stop': MANAGERS,
  'site.resume': MANAGERS,
  /** demo-routes.ts: everyone but a viewer may work the simulated panels. */
  'demo.simulate': ['admin', 'engineer', 'manager', 'technician'] as readonly Role[],
} as const;

export type DmopCapability = keyof typeof DMOP_CAPABILITIES;

export function mayDmop(role: Role | null | undefined, capability: DmopCapability): boolean {
  return role !== null && role !== undefined && DMOP_CAPABILITIES[capability].includes(role);
}

/** "admin or manager". */
export function rolesThatMay(capability: DmopCapability): string {
  const roles = [...DMOP_CAPABILITIES[capability]];
  return roles.length <= 1 ? roles.join('') : `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}`;
}

/**
 * Two-person rule: a manager other than the one who created the work order approves it
 * (approval_by_author otherwise).
 */
export function mayApprove(user: SessionUser | null, wo: DmopWorkOrder): boolean {
  return user !== null && mayDmop(user.role, 'work-order.approve') && wo.createdBy !== user.username;
}

/** The steps are done by a technician assigned to the work order, or an admin (requireWorker). */
export function isWorker(user: SessionUser | null, wo: DmopWorkOrder): boolean {
  if (!user) return false;
  return user.role === 'admin' || (user.role === 'technician' && wo.assignees.includes(user.username));
}

/** A confirm step is confirmed by a worker whose role the step names. */
export function mayConfirm(user: SessionUser | null, wo: DmopWorkOrder, step: ProcedureStep | undefined): boolean {
  return step?.kind === 'confirm' && isWorker(user, wo) && step.roles.includes(user!.role);
}
