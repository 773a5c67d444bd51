/**
 * Every refusal of the TUF client is a `TufError` with a stable code (STYLE.md §5) and a message
 * that names the role or target, what was wrong and what to do. The trusted metadata on disk is
 * never changed by a refused step, so the next refresh starts from the same trust (TUF §5).
 */
import { ShellguardError } from '@shellguard/protocol';

export const TUF_ERROR_CODES = [
  /** There is no usable trusted root in the metadata directory: run init with a root shipped out of band. */
  'not_initialized',
  /** Metadata is not JSON, not of the expected `_type`, or violates the format (TUF §4). */
  'bad_metadata',
  /** Fewer than a threshold of distinct keys signed it (TUF §5.3.4, §5.4.2, §5.5.3, §5.6.3). */
  'signature_threshold',
  /** Its `expires` is not after the time the refresh started: a freeze attack or a stale mirror (§5.3.10, §5.4.4, §5.5.6, §5.6.5). */
  'expired',
  /** A version lower than one already trusted, or a role dropped from snapshot (§5.4.3, §5.5.5). */
  'rollback',
  /** The version inside differs from the one its URL or its parent's meta names (§5.3.5, §5.5.4, §5.6.4). */
  'version_mismatch',
  /** Length differs from what the parent metadata lists (§5.5.2, §5.6.2, §5.7). */
  'length_mismatch',
  /** A hash differs from what the parent metadata lists (§5.5.2, §5.6.2, §5.7). */
  'hash_mismatch',
  /** The parent lists only hash algorithms this client cannot compute, so the file cannot be verified. */
  'unsupported_hash',
  /** More bytes arrived than allowed (endless-data attack, §5.3.3, §5.4.1): the transfer was aborted. */
  'too_large',
  /** The network failed, timed out or answered with an unexpected status. Retrying may help. */
  'fetch_failed',
  /** The repository answered 404 (or 403) for this file. */
  'not_found',
  /** No targets role that is trusted for this path lists it (§5.6.7, §5.7.2). */
  'target_not_found',
  /** The delegation search visited the maximum number of roles without an answer (§5.6.7.1). */
  'delegation_limit',
  /** Reading or writing the metadata directory or the target directory failed. */
  'storage_failed',
] as const;

export type TufErrorCode = (typeof TUF_ERROR_CODES)[number];

export interface TufErrorDetails {
  /** The role (`root`, `timestamp`, a delegated role name) or target path concerned. */
  role?: string;
  target?: string;
  url?: string;
  [key: string]: unknown;
}

export class TufError extends ShellguardError<TufErrorCode> {
  declare readonly details: TufErrorDetails;

  constructor(code: TufErrorCode, message: string, details: TufErrorDetails = {}) {
    super(code, message, details);
  }
}
