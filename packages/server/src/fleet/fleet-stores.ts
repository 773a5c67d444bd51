/**
 * The fleet's store ports together: what the services read through (bound to the database) and
 * what a unit of work hands them, bound to one transaction, with the audit recorder and incident
 * raiser of that same transaction — a claim, its audit event and an incident commit together.
 */
import type { AuditRecorder } from '../audit/audit-log.ts';
import type { IncidentRaiser } from '../incidents/incident-log.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { AttestationStore } from './attestation-store.ts';
import type { CertificateStore } from './certificate-store.ts';
import type { ClaimStore } from './claim-store.ts';
import type { FleetViewStore } from './fleet-view-store.ts';
import type { GroupStore } from './group-store.ts';
import type { NonceStore } from './nonce-store.ts';
import type { ReleaseStore } from './release-store.ts';
import type { ReportStore } from './report-store.ts';

export interface FleetStores {
  groups: GroupStore;
  claims: ClaimStore;
  releases: ReleaseStore;
  attestations: AttestationStore;
  certificates: CertificateStore;
  reports: ReportStore;
  nonces: NonceStore;
  view: FleetViewStore;
}

/** What a fleet unit of work hands out: the stores and the audit/incident ports, all in one transaction. */
export interface FleetTx extends FleetStores {
  audit: AuditRecorder;
  incidents: IncidentRaiser;
}

export type FleetUnitOfWork = UnitOfWork<FleetTx>;
