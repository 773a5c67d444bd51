/**
 * Reference values (RFC 9334 §8.3): the releases registered for a device group, each a manifest
 * of the component digests that release installs. Comparing evidence with them is the heart of
 * the appraisal policy (RFC 9334 §8.5).
 */
import { compareSemver, type Measurement } from '@shellguard/protocol';

/** Components every guardian must measure; evidence without one of them cannot be appraised. */
export const REQUIRED_COMPONENTS = ['runtime', 'guardian-bundle', 'config', 'profiles'] as const;

export interface ReleaseManifest {
  group: string;
  swname: string;
  swversion: string;
  /**
   * One digest per component, except per-device components (config, profiles, profile:<id>),
   * which may be listed once per device configuration the release is deployed with.
   */
  components: Measurement[];
}

export interface ComponentDifference {
  component: string;
  /** What the reference says (undefined when no single digest is expected). */
  expected?: string;
  /** What the device measured (undefined when it did not measure it). */
  measured?: string;
}

/** Components whose digest legitimately differs per device (site configuration, equipment profiles). */
export function isPerDeviceComponent(component: string): boolean {
  return component === 'config' || component === 'profiles' || component.startsWith('profile:');
}

/** Every digest any release of a group registers, by component name. */
export type AllowedDigests = ReadonlyMap<string, ReadonlySet<string>>;

export function allowedDigests(releases: readonly ReleaseManifest[]): AllowedDigests {
  const allowed = new Map<string, Set<string>>();
  for (const r of releases) {
    for (const c of r.components) {
      let set = allowed.get(c.component);
      if (!set) allowed.set(c.component, (set = new Set()));
      set.add(c.digest);
    }
  }
  return allowed;
}

/**
 * Every measured (component, digest) must be one the group's releases register for that
 * component name, and the required components must all be present. Returns the offending
 * components (empty: the measurements match).
 */
export function unmatchedMeasurements(measurements: readonly Measurement[], allowed: AllowedDigests): ComponentDifference[] {
  const out: ComponentDifference[] = [];
  const measured = new Set<string>();
  for (const m of measurements) {
    measured.add(m.component);
    if (!allowed.get(m.component)?.has(m.digest)) out.push({ component: m.component, measured: m.digest });
  }
  for (const c of REQUIRED_COMPONENTS) if (!measured.has(c)) out.push({ component: c });
  return out;
}

/** The release a group should run: its newest by semantic version. */
export function newestRelease<T extends { swversion: string }>(releases: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const r of releases) if (!best || compareSemver(r.swversion, best.swversion) > 0) best = r;
  return best;
}

/**
 * How a device's measurements differ from what its group should run: the newest release's
 * digests, except per-device components (config, profiles), which only have to be registered in
 * some release of the group.
 */
export function driftFromTarget(measurements: readonly Measurement[], releases: readonly ReleaseManifest[]): ComponentDifference[] {
  const target = newestRelease(releases);
  if (!target) return [];
  const perDevice = new Map<string, Set<string>>();
  for (const r of releases) {
    for (const c of r.components) {
      if (!isPerDeviceComponent(c.component)) continue;
      let set = perDevice.get(c.component);
      if (!set) perDevice.set(c.component, (set = new Set()));
      set.add(c.digest);
    }
  }
  const measured = new Map(measurements.map((m) => [m.component, m.digest]));
  const out: ComponentDifference[] = [];
  const checked = new Set<string>();
  for (const c of target.components) {
    if (checked.has(c.component)) continue;
    checked.add(c.component);
    const got = measured.get(c.component);
    if (isPerDeviceComponent(c.component)) {
      if (got === undefined || !perDevice.get(c.component)?.has(got)) {
        out.push({ component: c.component, ...(got !== undefined ? { measured: got } : {}) });
      }
    } else if (got !== c.digest) {
      out.push({ component: c.component, expected: c.digest, ...(got !== undefined ? { measured: got } : {}) });
    }
  }
  for (const m of measurements) {
    if (checked.has(m.component)) continue;
    if (isPerDeviceComponent(m.component) && perDevice.get(m.component)?.has(m.digest)) continue;
    out.push({ component: m.component, measured: m.digest });
  }
  return out;
}
