/**
 * Which HTTP status each domain error gets (STYLE.md §5: translate to HTTP only at the edge).
 * One map per domain, each a `Record<Code, number>`, so a code added without a status does not
 * compile. Errors are told apart by class, not by code alone: two domains may use the same code
 * for different things (`device_unclaimed` is a fleet 404 but an attestation 403).
 */
import { ShellguardError } from '@shellguard/protocol';
import { AlarmError } from '../../alarms/alarm-error.ts';
import { MaintenanceError } from '../../analytics/maintenance/maintenance-book.ts';
import { AuditError } from '../../audit/audit-error.ts';
import { AuthError } from '../../auth/api-tokens.ts';
import { UserError } from '../../auth/users.ts';
import { BrokerError } from '../../broker/broker-error.ts';
import { AttestationError, FleetError } from '../../fleet/fleet-error.ts';
import { IncidentError } from '../../incidents/incident-error.ts';
import { LiveError } from '../../live/event-hub.ts';
import { NotificationError } from '../../notifications/notification-error.ts';
import { PkiError } from '../../pki/pki-error.ts';
import { ProcedureError } from '../../procedures/procedure-error.ts';
import { RegistryError } from '../../registry/registry-error.ts';
import { TelemetryError } from '../../telemetry/telemetry-error.ts';
import { ImageRepositoryError } from '../../updates/image-repository-error.ts';
import { DeploymentError } from '../../updates/rollout/deployment-error.ts';
import { ApiError } from '../api-error.ts';
import { alarmHttpStatus } from './alarms.ts';
import { apiHttpStatus } from './api.ts';
import { attestationHttpStatus } from './attestation.ts';
import { auditHttpStatus } from './audit.ts';
import { authHttpStatus } from './auth.ts';
import { brokerHttpStatus } from './broker.ts';
import { deploymentHttpStatus } from './deployments.ts';
import { fleetHttpStatus } from './fleet.ts';
import { imageRepositoryHttpStatus } from './image-repository.ts';
import { incidentHttpStatus } from './incidents.ts';
import { liveHttpStatus } from './live.ts';
import { maintenanceHttpStatus } from './maintenance.ts';
import { notificationHttpStatus } from './notifications.ts';
import { pkiHttpStatus } from './pki.ts';
import { procedureHttpStatus } from './procedures.ts';
import { registryHttpStatus } from './registry.ts';
import { telemetryHttpStatus } from './telemetry.ts';
import { userHttpStatus } from './users.ts';

type ErrorClass<Code extends string> = abstract new (...args: never[]) => ShellguardError<Code>;

/** A domain's error class and the status of each of its codes. */
export interface DomainHttpStatus {
  readonly errorClass: ErrorClass<string>;
  readonly status: Readonly<Record<string, number>>;
}

/** Pairs a class with its map; the map must have exactly that class's codes. */
function domain<Code extends string>(errorClass: ErrorClass<Code>, status: NoInfer<Record<Code, number>>): DomainHttpStatus {
  return { errorClass, status };
}

export const DOMAIN_HTTP_STATUSES: readonly DomainHttpStatus[] = [
  domain(ApiError, apiHttpStatus),
  domain(AlarmError, alarmHttpStatus),
  domain(AttestationError, attestationHttpStatus),
  domain(AuditError, auditHttpStatus),
  domain(AuthError, authHttpStatus),
  domain(UserError, userHttpStatus),
  domain(BrokerError, brokerHttpStatus),
  domain(DeploymentError, deploymentHttpStatus),
  domain(FleetError, fleetHttpStatus),
  domain(ImageRepositoryError, imageRepositoryHttpStatus),
  domain(IncidentError, incidentHttpStatus),
  domain(LiveError, liveHttpStatus),
  domain(MaintenanceError, maintenanceHttpStatus),
  domain(NotificationError, notificationHttpStatus),
  domain(PkiError, pkiHttpStatus),
  domain(ProcedureError, procedureHttpStatus),
  domain(RegistryError, registryHttpStatus),
  domain(TelemetryError, telemetryHttpStatus),
];

/** The status of a domain error; an error of no known domain, or a code its map lacks, is a server fault (500). */
export function httpStatusOf(err: ShellguardError): number {
  const known = DOMAIN_HTTP_STATUSES.find((d) => err instanceof d.errorClass);
  return known && Object.hasOwn(known.status, err.code) ? known.status[err.code]! : 500;
}
