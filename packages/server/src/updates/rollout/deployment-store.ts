/**
 * The deployments' persistence port (async: a PostgreSQL implementation can follow). Records are
 * read and written whole; `transaction` is the boundary inside which a change to a deployment,
 * its devices and its audit events commit together or not at all.
 */
import type { UpdateState, UpdateStream } from '@shellguard/protocol';
import type { Deployment, DeploymentState, DeviceRollout } from './deployment-model.ts';

export interface DeploymentFilter {
  group?: string | undefined;
  stream?: UpdateStream | undefined;
  states?: readonly DeploymentState[] | undefined;
  limit?: number | undefined;
}

export interface DeploymentStoreOperations {
  /** Refuses (rejects) an id that exists. */
  insertDeployment(d: Deployment): Promise<void>;
  saveDeployment(d: Deployment): Promise<void>;
  getDeployment(id: string): Promise<Deployment | undefined>;
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

export interface DeploymentStore extends DeploymentStoreOperations {
  /**
   * Runs `fn` with the store's operations in one transaction: all its writes commit when it
   * resolves and none do when it rejects. Transactions of one store run one after another.
   * Keep `fn` to store work (and the audit record of the change): no network calls inside.
   */
  transaction<T>(fn: (tx: DeploymentStoreOperations) => Promise<T>): Promise<T>;
}
