export type {
  SiteRegistry, SiteRecord, AreaRecord, AssetRecord, PointRecord, DeviceRecord, AssetFilter, AssetMove,
} from './site-registry.ts';
export { RegistryError, type RegistryErrorCode } from './registry-error.ts';
export { SqliteSiteRegistry, type SqliteSiteRegistryOptions } from './sqlite-site-registry.ts';
