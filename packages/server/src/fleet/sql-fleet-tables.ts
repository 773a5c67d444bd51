/**
 * The fleet's tables as kysely sees them (fleet-schema.ts creates them). Only the sql-*-store.ts
 * files use these; the ports speak domain records (fleet-types.ts).
 */
import type { Generated, Kysely } from 'kysely';
import type { AttestationRefusal, DeviceReport } from '@shellguard/protocol';
import type { SqlEngine, SqlExecutor } from '../db/sql-database.ts';
import type { ClaimState } from './fleet-types.ts';

export interface FleetGroupsTable {
  id: string;
  site: string;
  min_secure_version: string;
  updated_by: string;
  updated_at: number;
  /** Bumped with every change to the group's releases (migration 3). */
  release_revision: Generated<number>;
}

export interface FleetClaimsTable {
  device_id: string;
  site: string;
  group_id: string;
  state: ClaimState;
  reason: string | null;
  claimed_by: string;
  claimed_at: number;
  changed_by: string;
  changed_at: number;
}

export interface FleetReleasesTable {
  group_id: string;
  swname: string;
  swversion: string;
  /** JSON: Measurement[] */
  components: string;
  registered_by: string;
  registered_at: number;
}

export interface FleetAttestationsTable {
  id: Generated<number>;
  device_id: string;
  at: number;
  result: 'pass' | 'fail';
  reason: AttestationRefusal | null;
  /** 0 or 1 */
  authentic: number;
  swversion: string | null;
  /** JSON: Measurement[] */
  measurements: string | null;
  cert_serial: string | null;
  cert_not_after: number | null;
}

export interface FleetCertificatesTable {
  serial: string;
  device_id: string;
  issued_at: number;
  not_after: number;
  revoked_at: number | null;
}

export interface FleetReportsTable {
  id: Generated<number>;
  device_id: string;
  received_at: number;
  at: number;
  kind: DeviceReport['kind'];
  message: string;
  detail: string;
}

export interface FleetNoncesTable {
  id: Generated<number>;
  nonce: string;
  device_id: string;
  expires_at: number;
  used_at: number | null;
}

export interface FleetTables {
  fleet_groups: FleetGroupsTable;
  fleet_claims: FleetClaimsTable;
  fleet_releases: FleetReleasesTable;
  fleet_attestations: FleetAttestationsTable;
  fleet_certificates: FleetCertificatesTable;
  fleet_reports: FleetReportsTable;
  fleet_nonces: FleetNoncesTable;
}

export type FleetDb = Kysely<FleetTables>;

export function fleetDb(exec: SqlExecutor): FleetDb {
  return exec as FleetDb;
}

/**
 * `SELECT ... FOR UPDATE` where the engine has row locks (PostgreSQL). SQLite has none and needs
 * none: the server's one connection runs one transaction at a time (db/sqlite-write-lock.ts).
 */
export function lockRows<Q extends { forUpdate(): Q }>(query: Q, engine: SqlEngine): Q {
  return engine === 'postgres' ? query.forUpdate() : query;
}
