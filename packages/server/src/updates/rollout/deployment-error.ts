/**
 * Errors of deployments: a stable code and what to do about it (STYLE.md §5). The API maps them
 * through DEPLOYMENT_ERROR_STATUS; the `Record` makes the compiler find a code without a status.
 */
import { ShellguardError } from '@shellguard/protocol';

export const DEPLOYMENT_ERROR_STATUS = {
  /** The request or its policy is malformed (the message names the field). */
  deployment_invalid: 400,
  /** The version is not a genuine target of the image repository of (product, stream). */
  release_not_found: 404,
  /** The image repository's manifest describes another product, stream or version than asked. */
  release_mismatch: 409,
  /** The group has no claimed device that is not revoked or quarantined. */
  group_empty: 409,
  /** Another deployment of the same stream is running or paused in the group. */
  deployment_conflict: 409,
  deployment_not_found: 404,
  device_not_in_deployment: 404,
  /** The deployment's (or the device's) state does not allow the action. */
  deployment_state: 409,
  /** Installs can only be started inside one of the deployment's maintenance windows. */
  outside_maintenance_window: 409,
} as const;

export type DeploymentErrorCode = keyof typeof DEPLOYMENT_ERROR_STATUS;

export class DeploymentError extends ShellguardError<DeploymentErrorCode> {}
