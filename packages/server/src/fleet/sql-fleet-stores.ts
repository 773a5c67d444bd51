/** Every fleet store in SQL on one executor: the database, or a unit of work's transaction. */
import type { SqlEngine, SqlExecutor } from '../db/sql-database.ts';
import type { FleetStores } from './fleet-stores.ts';
import { SqlAttestationStore } from './sql-attestation-store.ts';
import { SqlCertificateStore } from './sql-certificate-store.ts';
import { SqlClaimStore } from './sql-claim-store.ts';
import { SqlFleetViewStore } from './sql-fleet-view-store.ts';
import { SqlGroupStore } from './sql-group-store.ts';
import { SqlNonceStore } from './sql-nonce-store.ts';
import { SqlReleaseStore } from './sql-release-store.ts';
import { SqlReportStore } from './sql-report-store.ts';

/** Cheap: the composition root builds a set per transaction (`sqlUnitOfWork(database, (tx) => ({ ...sqlFleetStores(tx, engine), ... }))`). */
export function sqlFleetStores(exec: SqlExecutor, engine: SqlEngine): FleetStores {
  return {
    groups: new SqlGroupStore(exec, engine),
    claims: new SqlClaimStore(exec, engine),
    releases: new SqlReleaseStore(exec, engine),
    attestations: new SqlAttestationStore(exec),
    certificates: new SqlCertificateStore(exec),
    reports: new SqlReportStore(exec),
    nonces: new SqlNonceStore(exec),
    view: new SqlFleetViewStore(exec),
  };
}
