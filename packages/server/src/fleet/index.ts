export {
  FleetService, MAX_REPORTS_PER_DEVICE, REPORTS_PER_MINUTE,
  type FleetServiceOptions, type ClaimState, type ClaimInput, type ClaimRecord, type ClaimManyError, type ClaimManyResult,
  type GroupInput, type GroupRecord, type ReleaseInput, type ReleaseRecord, type AttestationRecord, type FleetDeviceView,
  type VersionDrift, type StoredReport,
} from './fleet-service.ts';
export type { IssuedCertificate } from './fleet-types.ts';
export type { FleetStores, FleetTx, FleetUnitOfWork } from './fleet-stores.ts';
export type { GroupStore, GroupDefinition } from './group-store.ts';
export type { ClaimStore, ClaimStateChange } from './claim-store.ts';
export type { ReleaseStore } from './release-store.ts';
export type { AttestationStore } from './attestation-store.ts';
export type { CertificateStore } from './certificate-store.ts';
export type { ReportStore } from './report-store.ts';
export type { NonceStore, NonceCheck, IssuedNonce } from './nonce-store.ts';
export type { FleetViewStore, StoredDeviceView } from './fleet-view-store.ts';
export { sqlFleetStores } from './sql-fleet-stores.ts';
export { FLEET_MIGRATIONS } from './fleet-schema.ts';
export { CoalescingUnitOfWork } from './coalescing-unit-of-work.ts';
export { FleetError, AttestationError, type FleetErrorCode } from './fleet-error.ts';
export {
  normaliseSerial,
  type CertificateIssuer, type OperationalCertificateRequest, type OperationalCertificatePolicy, type IssuedOperationalCertificate,
} from './certificate-issuer.ts';
export { EvidenceVerifier, type VerifiedEvidence } from './evidence-verifier.ts';
export { REQUIRED_COMPONENTS, type ComponentDifference, type ReleaseManifest } from './reference-values.ts';
