export {
  ImageRepository, repositoryId, TUF_SPEC_VERSION, DEFAULT_SNAPSHOT_VALIDITY_MS, DEFAULT_TIMESTAMP_VALIDITY_MS,
  type ImageRepositoryOptions, type RepositoryDetail, type RepositorySummary, type RepositoryTarget, type RoleState,
  type UploadedTargetFile,
} from './image-repository.ts';
export { ImageRepositoryError, type ImageRepositoryErrorCode } from './image-repository-error.ts';
export { TUF_ROLES, type ImageRepositoryStore, type RepositoryId, type StoredMetadata, type StoredTargetFile, type TufRole } from './image-repository-store.ts';
export { SqlImageRepositoryStore, type SqlImageRepositoryStoreOptions } from './sql-image-repository-store.ts';
export { IMAGE_REPOSITORY_MIGRATIONS } from './image-repository-schema.ts';
export { targetBlobsFor, type TargetBlobs } from './target-blobs.ts';
export { FileTargetBlobs } from './file-target-blobs.ts';
export { SqlTargetBlobs } from './sql-target-blobs.ts';
export { OnlineKeyDirectory, type OnlineSigningKeys, type ProposedOnlineKeys } from './online-keys.ts';
export { parseBundleManifest } from './bundle-manifest.ts';
export { tufExpires, tufKeyIdOf, tufKeyOf, tufSigner, type TufKeyJson, type TufPublicKey } from './tuf-keys.ts';
