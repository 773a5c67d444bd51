/**
 * Errors of deployments: a stable code and what to do about it (STYLE.md §5). The API maps them
 * in api/http-status/deployments.ts; its `Record` makes the compiler find a code without a status.
 */
import { ShellguardError } from '@shellguard/protocol';

export type DeploymentErrorCode =
  /** The request or its policy is malformed (the message names the field). */
  | 'deployment_invalid'
  /** The version is not a genuine target of the image repository of (product, stream). */
  | 'release_not_found'
  /** The image repository's manifest describes another product, stream or version than asked. */
  | 'release_mismatch'
  /** The group has no claimed device that is not revoked or quarantined. */
  | 'group_empty'
  /** Another deployment of the same stream is running or paused in the group. */
  | 'deployment_conflict'
  | 'deployment_not_found'
  | 'device_not_in_deployment'
  /** The deployment's (or the device's) state does not allow the action. */
  | 'deployment_state'
  /** Installs can only be started inside one of the deployment's maintenance windows. */
  | 'outside_maintenance_window';

export class DeploymentError extends ShellguardError<DeploymentErrorCode> {}
