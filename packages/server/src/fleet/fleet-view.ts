/** What operators see of the fleet: every device's standing, and who does not run what their group should. */
import type { FleetViewStore } from './fleet-view-store.ts';
import type { FleetDeviceView, ReleaseRecord, VersionDrift } from './fleet-types.ts';
import { driftFromTarget, newestRelease } from './reference-values.ts';

export interface FleetViewOptions {
  view: FleetViewStore;
  releasesOf: (group: string) => Promise<ReleaseRecord[]>;
  reportsDropped: (deviceId: string) => number;
}

export class FleetView {
  constructor(private readonly options: FleetViewOptions) {}

  async fleetView(): Promise<FleetDeviceView[]> {
    return (await this.options.view.devices()).map((d) => ({ ...d, reportsDropped: this.options.reportsDropped(d.deviceId) }));
  }

  /**
   * "Right version everywhere": devices (not revoked) whose last measured software differs from
   * their group's newest release. Devices never appraised have no measurements and are not listed.
   */
  async versionReport(): Promise<VersionDrift[]> {
    const devices = await this.fleetView();
    const releasesByGroup = new Map<string, ReleaseRecord[]>();
    for (const group of new Set(devices.map((d) => d.group))) releasesByGroup.set(group, await this.options.releasesOf(group));
    const out: VersionDrift[] = [];
    for (const device of devices) {
      if (device.state === 'revoked' || !device.measurements || !device.lastAttestation) continue;
      const releases = releasesByGroup.get(device.group) ?? [];
      const target = newestRelease(releases);
      if (!target) continue;
      const differences = driftFromTarget(device.measurements, releases);
      if (differences.length === 0) continue;
      out.push({
        deviceId: device.deviceId, site: device.site, group: device.group, swversion: device.swversion ?? '',
        measuredAt: device.lastAttestation.at, target: { swname: target.swname, swversion: target.swversion }, differences,
      });
    }
    return out;
  }
}
