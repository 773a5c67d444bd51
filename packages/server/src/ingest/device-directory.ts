/**
 * What ingest asks and tells about the guardians that publish (STYLE.md §1: a narrow port):
 * which site each is claimed into (the fleet), which assets each holds and its online state
 * (the site registry). The composition root builds it from both (registry-device-directory.ts).
 */
import type { AssetBirth } from '@shellguard/protocol';

/** An asset, by the key it has in its site. */
export interface AssetRef {
  site: string;
  asset: string;
}

/** Which guardian holds an asset. */
export interface AssetHolder extends AssetRef {
  deviceId: string;
}

export interface DeviceDirectory {
  /**
   * The site a device is claimed into, if claims are in use: telemetry under any other site's
   * Sparkplug group is refused (least privilege: a device speaks only for its own site).
   * A claim, once made, never changes site, so ingest remembers a site it was told.
   */
  claimedSite(deviceId: string): Promise<string | undefined>;
  /** Assets bound to a guardian. */
  assetsOf(deviceId: string): Promise<readonly AssetRef[]>;
  /** The guardians these assets are bound to, in one read (unbound ones are left out). */
  holdersOf(assets: readonly AssetRef[]): Promise<readonly AssetHolder[]>;
  /**
   * Binds the asset to `deviceId` unless another guardian holds it, atomically (two replicas
   * binding at once give it to one). Resolves to the holder after the call, and whether this call bound it.
   */
  bindAsset(site: string, asset: string, deviceId: string, now: number): Promise<{ owner: string; bound: boolean }>;
  /** Records a birth of an asset bound to `deviceId`; false (nothing recorded) when another guardian holds it. */
  recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now: number): Promise<boolean>;
  recordDeviceOnline(deviceId: string, site: string, version: string, now: number): Promise<void>;
  recordDeviceOffline(deviceId: string, now: number): Promise<void>;
  /** Cheap: on every message. */
  recordDeviceSeen(deviceId: string, now: number): void;
  /** The guardian's clock minus the server's, as last measured (ms). */
  recordClockOffset(deviceId: string, offsetMs: number, now: number): Promise<void>;
}
