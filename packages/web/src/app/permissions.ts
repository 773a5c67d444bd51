/**
 * What each role may do, as the server's routes check it (packages/server/src/api: requireRole
 * calls). The server decides; the UI only hides or disables what would be refused, so a
 * technician is not offered a revoke button that can only answer 403.
 */
import type { Role } from './api-types.ts';

/** alarm-routes.ts ALARM_OPERATOR_ROLES (ISA-18.2 §10.5 operator actions). */
const ALARM_OPERATORS: readonly Role[] = ['admin', 'engineer', 'technician'];
/** bearer-auth.ts WRITER_ROLES: engineering changes and fleet administration. */
const WRITERS: readonly Role[] = ['admin', 'engineer'];
/** analytics-routes.ts WORK_ORDER_ROLES. */
const WORK_ORDER_AUTHORS: readonly Role[] = ['admin', 'engineer', 'technician'];
/** incident-routes.ts INCIDENT_HANDLER_ROLES and INCIDENT_COMMENTER_ROLES. */
const INCIDENT_HANDLERS: readonly Role[] = ['admin', 'engineer', 'manager'];
const INCIDENT_COMMENTERS: readonly Role[] = [...INCIDENT_HANDLERS, 'technician'];

export const CAPABILITIES = {
  'alarm.acknowledge': ALARM_OPERATORS,
  'alarm.shelve': ALARM_OPERATORS,
  'alarm.unshelve': ALARM_OPERATORS,
  'alarm.remove-from-service': WRITERS,
  'alarm.return-to-service': WRITERS,
  'fleet.revoke': WRITERS,
  /** deployment-routes.ts: deploy, pause, resume, abort, start installs, defer a device (WRITER_ROLES). */
  'deployment.manage': WRITERS,
  'work-order.create': WORK_ORDER_AUTHORS,
  /** analytics-routes.ts: POST /asset-models/relearn (WRITER_ROLES). */
  'asset.relearn': WRITERS,
  'incident.assign': INCIDENT_HANDLERS,
  'incident.status': INCIDENT_HANDLERS,
  'incident.comment': INCIDENT_COMMENTERS,
  'token.list': ['admin'] as readonly Role[],
} as const;

export type Capability = keyof typeof CAPABILITIES;

export function can(role: Role | null | undefined, capability: Capability): boolean {
  return role !== null && role !== undefined && CAPABILITIES[capability].includes(role);
}

/** Who may, in words: "admin, engineer or technician". */
export function rolesThatCan(capability: Capability): string {
  const roles = [...CAPABILITIES[capability]];
  return roles.length <= 1 ? roles.join('') : `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}`;
}
