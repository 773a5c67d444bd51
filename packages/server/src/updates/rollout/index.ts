/**
 * Deployments: a release rolled out to a device group in waves (ARCHITECTURE.md §4).
 *
 * Wiring (composition root, server.ts):
 *   const deployments = createDeploymentService({
 *     store: new SqlDeploymentStore(database.db, { engine: database.engine }),
 *     unitOfWork: sqlUnitOfWork(database, (tx) => ({ deployments: new SqlDeploymentStore(tx, { engine }), audit: audit.recorderIn(tx) })),
 *     catalog,                                  // the image repository's ReleaseCatalog
 *     groups: fleetGroupDirectory(fleet),
 *     referenceValues: fleetReferenceValues(fleet),
 *     evidence: fleetEvidenceCheck(fleet),
 *     instructor: director,                     // Director.instruct(deviceId, input)
 *     clock,                                    // @shellguard/protocol's Clock (default systemClock)
 *     onTickError: (err, id) => logger.warn({ deploymentId: id, err: errorMessage(err) }, 'deployment tick failed; retried on the next'),
 *   });
 *   deployments.start();                        // ticks every 30 s; deployments.stop() on shutdown
 *   // MQTT up/update: deployments.onDeviceStatus(deviceId, decodeUpdateStatus(payload))
 *   // HTTP: buildApi({ ..., deployments })
 */
export {
  ACTIVE_DEPLOYMENT_STATES, DEFAULT_POLICY, DEPLOYMENT_STATES, normalisePolicy,
  type Deployment, type DeploymentRequest, type DeploymentState, type DeploymentTarget, type DeviceRollout, type RolloutPolicy,
} from './deployment-model.ts';
export { DeploymentError, type DeploymentErrorCode } from './deployment-error.ts';
export { deploymentProgress, type DeploymentProgress, type WaveProgress } from './deployment-progress.ts';
export type { DeploymentFilter, DeploymentStore, DeploymentUnit } from './deployment-store.ts';
export { SqlDeploymentStore } from './sql-deployment-store.ts';
export { DEPLOYMENT_MIGRATIONS } from './deployment-schema.ts';
export type {
  AttestedSoftware, DeviceInstruction, EvidenceCheck, GroupDirectory, Instructor, ReferenceValues, ReleaseCatalog,
} from './rollout-ports.ts';
export { fleetEvidenceCheck, fleetGroupDirectory, fleetReferenceValues, type FleetForRollouts } from './fleet-adapters.ts';
export {
  createDeploymentService, DeploymentService,
  type DeploymentServiceDeps, type DeploymentView, type StatusOutcome, type VersionReport, type VersionReportDevice,
} from './deployment-service.ts';
export { isInsideAnyWindow, windowEndsAt, type MaintenanceWindow } from './maintenance-window.ts';
