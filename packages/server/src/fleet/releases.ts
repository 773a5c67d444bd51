/**
 * Releases: the reference values (RFC 9334 §8.3 Reference Values) each group's devices must
 * measure, registered by operators or the rollout engine, and read on every appraisal.
 */
import { compareSemver, isSemver, type Measurement } from '@shellguard/protocol';
import { requireGroup } from './claims-and-groups.ts';
import { FleetError } from './fleet-error.ts';
import type { FleetStores, FleetTx, FleetUnitOfWork } from './fleet-stores.ts';
import type { ReleaseInput, ReleaseRecord } from './fleet-types.ts';
import { allowedDigests, isPerDeviceComponent, type AllowedDigests } from './reference-values.ts';

/** Releases may list many per-device config digests. */
const MAX_RELEASE_COMPONENTS = 10_000;
const COMPONENT_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,127}$/;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

export interface ReleaseRegistryOptions {
  stores: Pick<FleetStores, 'groups' | 'releases'>;
  uow: FleetUnitOfWork;
  now: () => number;
}

/** A group's releases and the digests they allow per component, as of `revision`. */
export interface ReferenceValues {
  revision: number;
  releases: readonly ReleaseRecord[];
  allowed: AllowedDigests;
}

function validateComponents(components: unknown): Measurement[] {
  if (!Array.isArray(components) || components.length === 0 || components.length > MAX_RELEASE_COMPONENTS) {
    throw new FleetError('invalid_input', `components must be a list of 1 to ${MAX_RELEASE_COMPONENTS} {component, digest} entries`);
  }
  const seen = new Set<string>();
  return components.map((c: unknown) => {
    const { component, digest } = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    if (typeof component !== 'string' || !COMPONENT_PATTERN.test(component)) {
      throw new FleetError('invalid_input', 'component names are short lowercase names (runtime, guardian-bundle, config, profiles, profile:<id>)', { component });
    }
    if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
      throw new FleetError('invalid_input', `the digest of ${component} must be lowercase hex SHA-256`, { component });
    }
    if (seen.has(`${component} ${digest}`) || (seen.has(component) && !isPerDeviceComponent(component))) {
      throw new FleetError('invalid_input', `component ${component} is listed twice (only config and profiles may list several digests)`, { component });
    }
    seen.add(component);
    seen.add(`${component} ${digest}`);
    return { component, digest };
  });
}

/** The code a release runs, without the per-device configuration: what two registrations of one version must share. */
const codeOf = (list: readonly Measurement[]): string => list.filter((c) => !isPerDeviceComponent(c.component))
  .map((c) => `${c.component} ${c.digest}`).sort().join('\n');

export class ReleaseRegistry {
  private readonly stores: Pick<FleetStores, 'groups' | 'releases'>;
  private readonly uow: FleetUnitOfWork;
  private readonly now: () => number;
  /**
   * Parsed reference values per group, so an appraisal does not re-read and re-index large
   * manifests. Validated against the store's revision on every use (one small read): a release
   * registered through any replica is seen by the next appraisal everywhere.
   */
  private readonly cache = new Map<string, ReferenceValues>();

  constructor(options: ReleaseRegistryOptions) {
    this.stores = options.stores;
    this.uow = options.uow;
    this.now = options.now;
  }

  /** Registers a release's reference manifest for a group (idempotent; per-device values extend it). */
  async registerRelease(input: ReleaseInput, actor: string): Promise<ReleaseRecord> {
    const group = await requireGroup(this.stores.groups, input.group);
    if (typeof input.swname !== 'string' || input.swname.length === 0 || input.swname.length > 128) {
      throw new FleetError('invalid_input', 'swname must be a string of 1-128 characters');
    }
    if (typeof input.swversion !== 'string' || !isSemver(input.swversion)) {
      throw new FleetError('invalid_input', 'swversion must be a semantic version such as 1.4.0', { swversion: input.swversion });
    }
    const components = validateComponents(input.components);
    return this.uow.run(async (tx) => {
      // Held until commit: two registrations for one group (from any replica) never lose each other's values.
      await tx.releases.lockGroup(group.id);
      const existing = await tx.releases.get(group.id, input.swversion);
      if (existing) {
        const same = existing.swname === input.swname && existing.components.length === components.length
          && components.every((c) => existing.components.some((e) => e.component === c.component && e.digest === c.digest));
        if (same) return existing;
        // The same software with another guardian's configuration or profiles: add those per-device
        // reference values to the release. Different code under the same version is a conflict.
        if (existing.swname !== input.swname || codeOf(existing.components) !== codeOf(components)) {
          throw new FleetError('release_conflict', `group ${group.id} already has a different release ${input.swversion}`, {
            group: group.id, swversion: input.swversion,
          });
        }
        return this.extend(tx, existing, components, actor);
      }
      const record: ReleaseRecord = {
        group: group.id, swname: input.swname, swversion: input.swversion, components, registeredBy: actor, registeredAt: this.now(),
      };
      await tx.releases.insert(record);
      await tx.audit.record({
        actor, action: 'group.release.register', target: `group:${group.id}`,
        detail: { swname: input.swname, swversion: input.swversion, components },
      });
      return record;
    });
  }

  /** A group's releases, newest first. */
  async listReleases(group: string): Promise<ReleaseRecord[]> {
    return (await this.stores.releases.list(group)).sort((a, b) => compareSemver(b.swversion, a.swversion));
  }

  /** The group's reference values as they are now (see `cache`). */
  async referenceValues(group: string): Promise<ReferenceValues> {
    const revision = await this.stores.releases.revision(group);
    const cached = this.cache.get(group);
    if (cached?.revision === revision) return cached;
    // Read after the revision: at least as new as it, so caching it under that revision is safe.
    const releases = await this.stores.releases.list(group);
    const values: ReferenceValues = { revision, releases, allowed: allowedDigests(releases) };
    this.cache.set(group, values);
    return values;
  }

  private async extend(tx: FleetTx, existing: ReleaseRecord, components: readonly Measurement[], actor: string): Promise<ReleaseRecord> {
    const added = components.filter((c) => !existing.components.some((e) => e.component === c.component && e.digest === c.digest));
    const merged = [...existing.components, ...added];
    await tx.releases.replaceComponents(existing.group, existing.swversion, merged);
    await tx.audit.record({
      actor, action: 'group.release.extend', target: `group:${existing.group}`,
      detail: { swname: existing.swname, swversion: existing.swversion, added },
    });
    return { ...existing, components: merged };
  }
}
