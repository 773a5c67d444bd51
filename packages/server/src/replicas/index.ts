/** Server replicas (issue 12): who is alive, and which replica handles which device's traffic. */
export type { ReplicaDirectory } from './replica-directory.ts';
export { SqlReplicaDirectory } from './sql-replica-directory.ts';
export { REPLICA_MIGRATIONS } from './replica-schema.ts';
export { DeviceAffinity, ownerOf, rendezvousScore, type DeviceAffinityOptions } from './device-affinity.ts';
