export {
  ImageRepository, repositoryId, TUF_SPEC_VERSION, DEFAULT_SNAPSHOT_VALIDITY_MS, DEFAULT_TIMESTAMP_VALIDITY_MS,
  type ImageRepositoryOptions, type RefreshTimer, type RepositoryDetail, type RepositorySummary, type RepositoryTarget, type RoleState,
  type UploadedTargetFile,
} from './image-repository.ts';
export { ImageRepositoryError, IMAGE_REPOSITORY_ERROR_STATUS, type ImageRepositoryErrorCode } from './image-repository-error.ts';
export { TUF_ROLES, type ImageRepositoryStore, type RepositoryId, type StoredMetadata, type StoredTargetFile, type TufRole } from './image-repository-store.ts';
export { SqliteImageRepositoryStore } from './sqlite-image-repository-store.ts';
export { OnlineKeyDirectory, type OnlineSigningKeys, type ProposedOnlineKeys } from './online-keys.ts';
export { parseBundleManifest } from './bundle-manifest.ts';
export { tufExpires, tufKeyIdOf, tufKeyOf, tufSigner, type TufKeyJson, type TufPublicKey } from './tuf-keys.ts';
