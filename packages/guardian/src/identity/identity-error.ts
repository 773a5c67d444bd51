import { ShellguardError } from '@shellguard/protocol';

export type IdentityErrorCode =
  /** The identity key file is readable or writable by group or others. */
  | 'key_file_permissions'
  /** The identity key file exists but does not hold a usable ECDSA P-256 private key. */
  | 'key_invalid';

export class IdentityError extends ShellguardError<IdentityErrorCode> {}
