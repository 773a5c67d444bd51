import type { PkiErrorCode } from '../../pki/pki-error.ts';

/** A bad CSR is the caller's (400); a missing, unreadable or misconfigured CA or API certificate is the server's (500). */
export const pkiHttpStatus: Record<PkiErrorCode, number> = {
  csr_invalid_signature: 400,
  csr_malformed: 400,
  csr_id_mismatch: 400,
  ca_exists: 409,
  ca_missing: 500,
  key_file_permissions: 500,
  root_key_offline: 500,
  ca_invalid: 500,
  api_certificate_unreadable: 500,
  api_certificate_invalid: 500,
  api_certificate_key_mismatch: 500,
  api_certificate_expired: 500,
  api_certificate_not_yet_valid: 500,
};
