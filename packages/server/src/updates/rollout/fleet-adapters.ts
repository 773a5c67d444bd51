/**
 * The rollout ports that the fleet answers: which devices are in a group, what reference values
 * a group accepts, and what a device's newest passing attestation measured.
 */
import type { BundleManifest } from '@shellguard/protocol';
import type { AttestationRecord, FleetDeviceView, ReleaseInput, ReleaseRecord } from '../../fleet/fleet-service.ts';
import type { AttestedSoftware, EvidenceCheck, GroupDirectory, ReferenceValues } from './rollout-ports.ts';

/** The part of FleetService the adapters use (FleetService itself satisfies it). */
export interface FleetForRollouts {
  fleetView(): Promise<FleetDeviceView[]>;
  registerRelease(input: ReleaseInput, actor: string): Promise<ReleaseRecord>;
  listReleases(group: string): Promise<ReleaseRecord[]>;
  attestations(deviceId: string, limit?: number): Promise<AttestationRecord[]>;
}

export function fleetGroupDirectory(fleet: Pick<FleetForRollouts, 'fleetView'>): GroupDirectory {
  return {
    async devicesInGroup(group) {
      return (await fleet.fleetView()).filter((d) => d.group === group && d.state === 'claimed').map((d) => d.deviceId).sort();
    },
  };
}

/**
 * The fleet keeps one release line per group, keyed by swversion (the guardian's version, which
 * its evidence reports). An application release registers under its own version. A platform
 * release (the runtime under the guardian) has a version of its own numbering, so it registers
 * as a pre-release of the group's newest release (`<newest>-platform.<version>`): the digests are
 * allowed (attestation accepts any registered digest per component), while "the release the
 * group should run" (newest by semver) stays the application release.
 */
export function fleetReferenceValues(fleet: Pick<FleetForRollouts, 'registerRelease' | 'listReleases'>): ReferenceValues {
  return {
    async allow(group, manifest: BundleManifest, actor) {
      if (manifest.stream === 'application') {
        await fleet.registerRelease({ group, swname: manifest.product, swversion: manifest.version, components: manifest.components }, actor);
        return;
      }
      const newest = (await fleet.listReleases(group)).find((r) => !r.swversion.includes('-platform.'));
      const base = (newest?.swversion ?? '0.0.0').replace(/[-+].*$/, '');
      await fleet.registerRelease({
        group, swname: `${manifest.product}:platform`, swversion: `${base}-platform.${manifest.version}`, components: manifest.components,
      }, actor);
    },
  };
}

export function fleetEvidenceCheck(fleet: Pick<FleetForRollouts, 'attestations'>): EvidenceCheck {
  return {
    async attestedSince(deviceId, sinceMs): Promise<AttestedSoftware | undefined> {
      // Newest first: the first pass at or after `sinceMs` is the newest one.
      const pass = (await fleet.attestations(deviceId, 50)).find((a) => a.result === 'pass' && a.at >= sinceMs && a.measurements !== undefined);
      if (!pass) return undefined;
      return { ...(pass.swversion !== undefined ? { swversion: pass.swversion } : {}), measurements: pass.measurements ?? [] };
    },
  };
}
