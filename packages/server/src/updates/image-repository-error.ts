/**
 * Errors of the TUF image repository (one per product and stream): a stable code plus the facts
 * needed to act on it (STYLE.md §5). The API gives each code its HTTP status in
 * api/http-status/image-repository.ts, which the compiler checks covers every code.
 */
import { ShellguardError } from '@shellguard/protocol';

export type ImageRepositoryErrorCode =
  /** The product or stream is not a valid name (stream: platform or application). */
  | 'repository_id_invalid'
  | 'repository_not_found'
  | 'repository_exists'
  /** The document is not TUF metadata of the expected role (unparseable, wrong _type, bad fields). */
  | 'metadata_invalid'
  /** Its `expires` is not in the future (TUF §5.3.10, §5.6.5: clients would refuse it). */
  | 'metadata_expired'
  /** Targets version not above the current one (TUF §5.5.5: clients refuse a rollback). */
  | 'version_not_increasing'
  /** A new root is not exactly the trusted version + 1 (TUF §5.3.5). */
  | 'root_version_not_next'
  /** Fewer valid signatures than the role's threshold (TUF §5.3.4, §5.6.3). */
  | 'signature_threshold'
  /** The root is well-formed TUF but breaks this repository's profile (roles, keys, consistent snapshots). */
  | 'root_invalid'
  /** The root does not name keys the server holds for snapshot and timestamp, or names them for an offline role. */
  | 'root_online_keys'
  /** Delegated targets roles are not supported by this repository. */
  | 'delegations_unsupported'
  /** A target's path, length or hashes are malformed. */
  | 'target_invalid'
  /** A target's `custom` is not a valid BundleManifest. */
  | 'target_manifest_invalid'
  /** A target's manifest names another product or stream than this repository's. */
  | 'target_repository_mismatch'
  /** A new or changed target came without its file. */
  | 'target_file_missing'
  /** A file's length or hash differs from what the targets metadata says. */
  | 'target_file_mismatch'
  /** A file was sent that the targets metadata does not name. */
  | 'target_file_unexpected'
  /** The server does not hold an online key its trusted root names (lost data directory?). */
  | 'online_key_unavailable'
  /** An online key file is readable by others than the server's user. */
  | 'online_key_permissions';

export class ImageRepositoryError extends ShellguardError<ImageRepositoryErrorCode> {}
