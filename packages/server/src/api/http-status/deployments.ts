import type { DeploymentErrorCode } from '../../updates/rollout/deployment-error.ts';

export const deploymentHttpStatus: Record<DeploymentErrorCode, number> = {
  deployment_invalid: 400,
  release_not_found: 404,
  release_mismatch: 409,
  group_empty: 409,
  deployment_conflict: 409,
  deployment_not_found: 404,
  device_not_in_deployment: 404,
  deployment_state: 409,
  outside_maintenance_window: 409,
};
