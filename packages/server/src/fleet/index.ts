export {
  FleetService, MAX_REPORTS_PER_DEVICE, REPORTS_PER_MINUTE,
  type FleetServiceOptions, type ClaimState, type ClaimInput, type ClaimRecord, type ClaimManyError, type ClaimManyResult,
  type GroupInput, type GroupRecord, type ReleaseInput, type ReleaseRecord, type AttestationRecord, type FleetDeviceView,
  type VersionDrift, type StoredReport,
} from './fleet-service.ts';
export { FleetError, AttestationError, type FleetErrorCode } from './fleet-error.ts';
export {
  normaliseSerial,
  type CertificateIssuer, type OperationalCertificateRequest, type OperationalCertificatePolicy, type IssuedOperationalCertificate,
} from './certificate-issuer.ts';
export { EvidenceVerifier, MAX_EVIDENCE_BYTES, type VerifiedEvidence } from './evidence-verifier.ts';
export { REQUIRED_COMPONENTS, type ComponentDifference, type ReleaseManifest } from './reference-values.ts';
export { compareSemver, isSemver } from './semver.ts';
