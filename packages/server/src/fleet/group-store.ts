/** Device groups: which site each belongs to and the minimum software version its devices may run. */
import type { GroupRecord } from './fleet-types.ts';

/** What {@link GroupStore.define} did. */
export type GroupDefinition =
  | { outcome: 'created'; group: GroupRecord }
  | { outcome: 'updated'; group: GroupRecord; previous: GroupRecord }
  /** The group exists in another site; nothing changed (a group never moves). */
  | { outcome: 'site_mismatch'; existing: GroupRecord };

export interface GroupStore {
  get(id: string): Promise<GroupRecord | undefined>;
  /** Every group, by id (code-unit order, the same on every engine). */
  list(): Promise<GroupRecord[]>;
  /**
   * Creates the group, or changes the minimum secure version (and who/when) of the group with
   * this id in the same site. Atomic: a concurrent definition of the same id waits or is seen.
   */
  define(group: GroupRecord): Promise<GroupDefinition>;
}
