/** Releases: the reference values (RFC 9334 §8.3) each group's devices must measure. */
import type { Measurement } from '@shellguard/protocol';
import type { ReleaseRecord } from './fleet-types.ts';

export interface ReleaseStore {
  /** A group's releases, oldest registration first. */
  list(group: string): Promise<ReleaseRecord[]>;
  get(group: string, swversion: string): Promise<ReleaseRecord | undefined>;
  /** Adds a release; false (nothing changed) when the group already has one with this swversion. */
  insert(release: ReleaseRecord): Promise<boolean>;
  /** Replaces a release's components (per-device reference values were added to it). */
  replaceComponents(group: string, swversion: string, components: readonly Measurement[]): Promise<void>;
  /**
   * A value that changes whenever the group's releases do (insert, replaceComponents): what a
   * cache of the group's reference values is validated against. Releases are never removed.
   */
  revision(group: string): Promise<number>;
  /**
   * Holds the group's releases until this unit of work ends, so a read-modify-write of them
   * (extending a release) is never lost to a concurrent one. Call it inside a unit of work.
   */
  lockGroup(group: string): Promise<void>;
}
