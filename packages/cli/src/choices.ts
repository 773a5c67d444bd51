/**
 * The values of every enumerated option of the CLI, so commander refuses a wrong one up front and
 * lists the allowed ones ("Allowed choices are ...") instead of passing it to the API. Each list is
 * checked against the server's own type: a value added there and not here fails to compile.
 */
import type { AlarmListState, AlarmPriority, AssetMode, Recommendation, Role, ShelveRequest, WorkOrder } from '@shellguard/server';

/** Every member of a string union, in the order written; the Record makes the compiler check none is missing or extra. */
function allOf<T extends string>(members: Record<T, true>): readonly T[] {
  return Object.keys(members) as T[];
}

export const ALARM_LIST_STATES = allOf<AlarmListState>({
  normal: true, 'unack-active': true, 'ack-active': true, 'unack-rtn': true, shelved: true, suppressed: true, 'out-of-service': true,
});
export const ALARM_PRIORITIES = allOf<AlarmPriority>({ critical: true, high: true, medium: true, low: true });
export const SHELVE_KINDS = allOf<ShelveRequest['kind']>({ 'one-shot': true, timed: true });
export const ASSET_MODES = allOf<AssetMode>({ normal: true, maintenance: true });
export const TOKEN_ROLES = allOf<Role>({ admin: true, engineer: true, technician: true, manager: true, viewer: true });
/** People have the same roles as tokens. */
export const USER_ROLES: readonly Role[] = TOKEN_ROLES;
export const RECOMMENDATION_STATUSES = allOf<Recommendation['status']>({ open: true, 'work-order': true });
export const WORK_ORDER_STATUSES = allOf<WorkOrder['status']>({ open: true, done: true });
export const WORK_ORDER_TYPES = allOf<WorkOrder['type']>({ planned: true, predictive: true, reactive: true });
/** Operators open planned and reactive work orders; predictive ones come from a recommendation (`maintenance plan`). */
export const NEW_WORK_ORDER_TYPES: readonly WorkOrder['type'][] = ['planned', 'reactive'];
