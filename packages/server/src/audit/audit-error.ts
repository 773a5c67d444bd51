/**
 * Errors of the audit domain: a stable code plus the facts needed to act on it (STYLE.md §5).
 * They stop a server from starting (a missing or wrong key) or an offline check from running;
 * what verification finds in the chain is not an error but an {@link AuditProblem}.
 */
import { ShellguardError } from '@shellguard/protocol';

export type AuditErrorCode =
  /** The database's chain is keyed, but the key file is not there: restore it, never make a new one. */
  | 'audit_key_missing'
  /** The key file holds another key than the one the database's chain was written with. */
  | 'audit_key_mismatch'
  /** The key file is not 64 hex characters (32 bytes). */
  | 'audit_key_invalid'
  /** The key file may be read by other users than the server's. */
  | 'audit_key_insecure'
  /** A database on disk needs a key file: only an in-memory database may run on a throw-away key. */
  | 'audit_key_required'
  /** The anchor file cannot be opened or written. */
  | 'audit_anchor_unwritable'
  /** The file given to an offline check is not a Shellguard database with an audit log. */
  | 'audit_database_invalid';

export class AuditError extends ShellguardError<AuditErrorCode> {}
