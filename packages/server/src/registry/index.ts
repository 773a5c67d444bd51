export type {
  SiteRegistry, SiteRecord, AreaRecord, AssetRecord, PointRecord, DeviceRecord, AssetFilter, AssetMove, AssetKey, AssetOwnership,
  AssetBinding,
} from './site-registry.ts';
export { RegistryError, type RegistryErrorCode } from './registry-error.ts';
export { SqlSiteRegistry, type SqlSiteRegistryOptions } from './sql-site-registry.ts';
export { REGISTRY_MIGRATIONS } from './registry-schema.ts';
export { AssetMoves, type AssetMoveRequest, type AssetMoveTx, type AssetMovesOptions } from './asset-moves.ts';
export { CachedAssetCatalog } from './cached-asset-catalog.ts';
