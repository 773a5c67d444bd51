import type { AttestationRefusal } from '@shellguard/protocol';

/**
 * A refused challenge or appraisal is an answer, not a fault: 403 with the protocol's stable
 * reason, which the guardian logs (EnrolmentRefused).
 */
export const attestationHttpStatus: Record<AttestationRefusal, number> = {
  challenge_proof_invalid: 403,
  challenge_stale: 403,
  challenge_replayed: 403,
  evidence_malformed: 403,
  signature_invalid: 403,
  key_mismatch: 403,
  nonce_unknown: 403,
  nonce_replayed: 403,
  nonce_expired: 403,
  device_unclaimed: 403,
  device_revoked: 403,
  device_quarantined: 403,
  measurements_mismatch: 403,
  version_below_minimum: 403,
  no_reference_values: 403,
};
