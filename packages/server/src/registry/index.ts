export type {
  SiteRegistry, SiteRecord, AreaRecord, AssetRecord, PointRecord, DeviceRecord, AssetFilter,
} from './site-registry.ts';
export { SqliteSiteRegistry, type SqliteSiteRegistryOptions } from './sqlite-site-registry.ts';
