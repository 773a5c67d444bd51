/**
 * The site registry port: what the server knows about sites, areas, assets, their points and the
 * guardians that report them (ARCHITECTURE.md §4). Ingest writes it from Sparkplug births and
 * deaths; the HTTP API reads it.
 */
import type { AssetBirth, PointKind } from '@shellguard/protocol';

export interface SiteRecord {
  id: string;
  firstSeen: number;
  areaCount: number;
  assetCount: number;
}

export interface AreaRecord {
  site: string;
  id: string;
  assetCount: number;
}

export interface AssetRecord {
  site: string;
  /** Sparkplug device name, unique within its site (e.g. `AHU-3`). */
  id: string;
  name: string;
  type: string;
  profile: string;
  area: string;
  /** The guardian that reports this asset. */
  deviceId: string;
  updatedAt: number;
}

export interface PointRecord {
  site: string;
  asset: string;
  name: string;
  unit: string;
  kind: PointKind;
  description: string;
}

export interface DeviceRecord {
  id: string;
  /** Empty until the guardian's birth names its site. */
  site: string;
  firstSeen: number;
  lastSeen: number;
  online: boolean;
  version: string;
  assetCount: number;
  /** The guardian's clock minus the server's when last measured (ms); null until measured. */
  clockOffsetMs: number | null;
}

export interface AssetFilter {
  site?: string;
  type?: string;
}

/** An operator moved an asset from one guardian to another. */
export interface AssetMove {
  site: string;
  asset: string;
  from: string | null;
  to: string;
}

export interface SiteRegistry {
  /**
   * Upserts the asset, its site and area, and replaces its point definitions with the birth's —
   * only when the asset is unbound (it becomes bound to `deviceId`) or bound to `deviceId`.
   * Returns false, changing nothing, when another guardian holds the asset.
   */
  recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now?: number): boolean;
  /** The guardian an asset is bound to (memory). */
  assetOwner(site: string, asset: string): string | undefined;
  /**
   * Binds an unbound asset to a guardian (its first report), with a placeholder record until its
   * birth describes it. False when another guardian holds it.
   */
  bindAsset(site: string, asset: string, deviceId: string, now?: number): boolean;
  /** Assets bound to a guardian (memory). */
  assetsOf(deviceId: string): readonly { site: string; asset: string }[];
  /** The operator action that moves an asset to another guardian (the caller audits it). */
  moveAsset(site: string, asset: string, toDeviceId: string, now?: number): AssetMove;
  recordClockOffset(deviceId: string, offsetMs: number, now?: number): void;
  recordDeviceOnline(deviceId: string, site: string, version: string, now?: number): void;
  recordDeviceOffline(deviceId: string, now?: number): void;
  /** Cheap: remembered in memory, written by `flushSeen`. */
  recordDeviceSeen(deviceId: string, now?: number): void;
  flushSeen(): void;
  listSites(): SiteRecord[];
  listAreas(site: string): AreaRecord[];
  listAssets(filter?: AssetFilter): AssetRecord[];
  /** Assets with this id, in any site unless `site` is given (ids are unique only within a site). */
  findAssets(assetId: string, site?: string): AssetRecord[];
  listPoints(site: string, asset: string): PointRecord[];
  listDevices(): DeviceRecord[];
  close(): void;
}
