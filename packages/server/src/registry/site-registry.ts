/**
 * The site registry port: what the server knows about sites, areas, assets, their points and the
 * guardians that report them (ARCHITECTURE.md §4). Ingest writes it from Sparkplug births and
 * deaths (through its device directory); the HTTP API reads it. Asynchronous, as a network
 * database is; the database is the truth about which guardian holds an asset, on every replica.
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
  site?: string | undefined;
  type?: string | undefined;
}

/** An asset, by the key it has in its site. */
export interface AssetKey {
  site: string;
  asset: string;
}

/** Which guardian an asset is bound to. */
export interface AssetOwnership extends AssetKey {
  deviceId: string;
}

/** The outcome of {@link SiteRegistry.bindAsset}. */
export interface AssetBinding {
  /** The guardian the asset is bound to after the call: the caller's, or the one holding it already. */
  owner: string;
  /** True when this call created the binding (the asset was unbound). */
  bound: boolean;
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
   * Resolves false, changing nothing, when another guardian holds the asset.
   */
  recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now?: number): Promise<boolean>;
  /** The guardian an asset is bound to. */
  assetOwner(site: string, asset: string): Promise<string | undefined>;
  /** The guardians these assets are bound to, in one read; unbound assets are left out. */
  ownersOf(assets: readonly AssetKey[]): Promise<AssetOwnership[]>;
  /**
   * Binds an unbound asset to a guardian (its first report), with a placeholder record until its
   * birth describes it. Atomic: of two guardians (or replicas) binding the same asset at once,
   * exactly one gets it, and both learn which.
   */
  bindAsset(site: string, asset: string, deviceId: string, now?: number): Promise<AssetBinding>;
  /** Assets bound to a guardian, by site and id. */
  assetsOf(deviceId: string): Promise<AssetKey[]>;
  /**
   * Rebinds an asset to another guardian. The operator action around it, which audits it in the
   * same transaction, is {@link AssetMoves}; call this inside that unit of work.
   * Rejects with `asset_not_found` or `asset_already_bound`.
   */
  moveAsset(site: string, asset: string, toDeviceId: string, now?: number): Promise<AssetMove>;
  recordClockOffset(deviceId: string, offsetMs: number, now?: number): Promise<void>;
  recordDeviceOnline(deviceId: string, site: string, version: string, now?: number): Promise<void>;
  recordDeviceOffline(deviceId: string, now?: number): Promise<void>;
  /** Cheap, on every message: remembered in memory, written by `flushSeen`. */
  recordDeviceSeen(deviceId: string, now?: number): void;
  flushSeen(): Promise<void>;
  listSites(): Promise<SiteRecord[]>;
  listAreas(site: string): Promise<AreaRecord[]>;
  listAssets(filter?: AssetFilter): Promise<AssetRecord[]>;
  /** Assets with this id, in any site unless `site` is given (ids are unique only within a site). */
  findAssets(assetId: string, site?: string): Promise<AssetRecord[]>;
  listPoints(site: string, asset: string): Promise<PointRecord[]>;
  listDevices(): Promise<DeviceRecord[]>;
  /** Stops the flush timer and writes the last-seen times still in memory. */
  close(): Promise<void>;
}
