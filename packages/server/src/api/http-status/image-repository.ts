import type { ImageRepositoryErrorCode } from '../../updates/image-repository-error.ts';

/** TUF image repositories: refused metadata 400/409, too few signatures 403, the server's own keys 500. */
export const imageRepositoryHttpStatus: Record<ImageRepositoryErrorCode, number> = {
  repository_id_invalid: 400,
  repository_not_found: 404,
  repository_exists: 409,
  metadata_invalid: 400,
  metadata_expired: 400,
  version_not_increasing: 409,
  root_version_not_next: 409,
  signature_threshold: 403,
  root_invalid: 400,
  root_online_keys: 400,
  delegations_unsupported: 400,
  target_invalid: 400,
  target_manifest_invalid: 400,
  target_repository_mismatch: 400,
  target_file_missing: 400,
  target_file_mismatch: 400,
  target_file_unexpected: 400,
  online_key_unavailable: 500,
  online_key_permissions: 500,
};
