/** The {@link DeviceDirectory} of a server: devices' claims from the fleet, their assets and state from the site registry. */
import type { AssetBirth } from '@shellguard/protocol';
import type { SiteRegistry } from '../registry/site-registry.ts';
import type { AssetHolder, AssetRef, DeviceDirectory } from './device-directory.ts';

export class RegistryDeviceDirectory implements DeviceDirectory {
  /**
   * @param claimedSite the fleet's claim lookup (`(id) => fleet.getClaim(id)` and its site); without
   *   it claims are not in use and every site is accepted.
   */
  constructor(
    private readonly registry: SiteRegistry,
    private readonly claimedSiteOf?: (deviceId: string) => Promise<string | undefined>,
  ) {}

  claimedSite(deviceId: string): Promise<string | undefined> {
    return this.claimedSiteOf ? this.claimedSiteOf(deviceId) : Promise.resolve(undefined);
  }

  assetsOf(deviceId: string): Promise<readonly AssetRef[]> {
    return this.registry.assetsOf(deviceId);
  }

  holdersOf(assets: readonly AssetRef[]): Promise<readonly AssetHolder[]> {
    return this.registry.ownersOf(assets);
  }

  bindAsset(site: string, asset: string, deviceId: string, now: number): Promise<{ owner: string; bound: boolean }> {
    return this.registry.bindAsset(site, asset, deviceId, now);
  }

  recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now: number): Promise<boolean> {
    return this.registry.recordAssetBirth(deviceId, site, birth, now);
  }

  recordDeviceOnline(deviceId: string, site: string, version: string, now: number): Promise<void> {
    return this.registry.recordDeviceOnline(deviceId, site, version, now);
  }

  recordDeviceOffline(deviceId: string, now: number): Promise<void> {
    return this.registry.recordDeviceOffline(deviceId, now);
  }

  recordDeviceSeen(deviceId: string, now: number): void {
    this.registry.recordDeviceSeen(deviceId, now);
  }

  recordClockOffset(deviceId: string, offsetMs: number, now: number): Promise<void> {
    return this.registry.recordClockOffset(deviceId, offsetMs, now);
  }
}
