import { ShellguardError } from '@shellguard/protocol';

export type PkiErrorCode =
  /** The CSR's self-signature does not verify: it was not made with the key it carries. */
  | 'csr_invalid_signature'
  /** The CSR could not be parsed, or carries a key other than ECDSA P-256. */
  | 'csr_malformed'
  /** The CSR's subject CN is not the device id derived from its public key. */
  | 'csr_id_mismatch'
  /** A CA already exists where a new one was to be written. */
  | 'ca_exists'
  /** The CA directory or one of its files is missing or unreadable. */
  | 'ca_missing'
  /** The CA key file is readable by group or others. */
  | 'key_file_permissions'
  /** An operation needs the root CA key, and root.key is not in the CA folder (moved offline). */
  | 'root_key_offline'
  /** A CA file is there but unusable: an issuing CA not signed by the root, a key not matching its certificate. */
  | 'ca_invalid'
  /** The operator's API certificate or key file (api.certFile, api.keyFile) is missing or cannot be read. */
  | 'api_certificate_unreadable'
  /** The API certificate or key file cannot be used: not PEM, an encrypted key, a chain out of order. */
  | 'api_certificate_invalid'
  /** api.keyFile is not the private key of the first certificate in api.certFile. */
  | 'api_certificate_key_mismatch'
  /** A certificate in api.certFile has expired. */
  | 'api_certificate_expired'
  /** A certificate in api.certFile is not valid yet (or this machine's clock is wrong). */
  | 'api_certificate_not_yet_valid';

export class PkiError extends ShellguardError<PkiErrorCode> {}
