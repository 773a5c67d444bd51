/**
 * The deployments' persistence port (STYLE.md §1; async, for either engine). Records are read
 * and written whole. The transaction boundary is a unit of work ({@link DeploymentUnit}): a change
 * to a deployment, its devices and its audit events commit together or not at all.
 */
import type { UpdateState, UpdateStream } from '@shellguard/protocol';
import type { AuditRecorder } from '../../audit/audit-log.ts';
import type { Deployment, DeploymentState, DeviceRollout } from './deployment-model.ts';

export interface DeploymentFilter {
  group?: string | undefined;
  stream?: UpdateStream | undefined;
  states?: readonly DeploymentState[] | undefined;
  limit?: number | undefined;
}

export interface DeploymentStore {
  /**
   * False, and nothing stored, when the id exists or another deployment of the same group and
   * stream is running or paused (the database keeps that rule, across replicas too).
   */
  insertDeployment(d: Deployment): Promise<boolean>;
  saveDeployment(d: Deployment): Promise<void>;
  /**
   * `forUpdate`: inside a unit of work, holds the deployment's row until it commits, so a
   * read-check-write of it is not interleaved with another replica's (PostgreSQL row lock;
   * SQLite's one writer already serialises).
   */
  getDeployment(id: string, options?: { forUpdate?: boolean }): Promise<Deployment | undefined>;
  /** Newest first (by creation time, then id). */
  deployments(filter?: DeploymentFilter): Promise<Deployment[]>;
  /** Inserts or replaces each device record of its deployment. */
  saveDevices(devices: readonly DeviceRollout[]): Promise<void>;
  getDevice(deploymentId: string, deviceId: string): Promise<DeviceRollout | undefined>;
  /** A deployment's devices, by wave then device id. */
  devices(deploymentId: string): Promise<DeviceRollout[]>;
  /**
   * For each device that reported to a deployment of this stream in this group, its record in
   * the newest such deployment it reported to (what it last said it runs).
   */
  latestReports(group: string, stream: UpdateStream): Promise<DeviceRollout[]>;
  /** How many of a deployment's devices are in each state, per wave (cheap: no records are read). */
  stateCounts(deploymentId: string): Promise<{ wave: number; state: UpdateState; count: number }[]>;
}

/**
 * What one unit of work of the rollout engine writes through: the deployment records and the
 * audit events of the change, bound to one transaction. Keep the work to store calls: no network,
 * and no port that reads the database outside the transaction (on SQLite it would wait for the
 * transaction's own write lock).
 */
export interface DeploymentUnit {
  deployments: DeploymentStore;
  audit: AuditRecorder;
}
