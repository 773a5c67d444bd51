/**
 * {@link ReleaseStore} in SQL (kysely; the same code on SQLite and PostgreSQL). The revision lives
 * on the group's row (fleet_groups.release_revision), bumped in the transaction of every change.
 */
import type { Measurement } from '@shellguard/protocol';
import { inTransaction, type SqlEngine, type SqlExecutor } from '../db/sql-database.ts';
import type { ReleaseRecord } from './fleet-types.ts';
import type { ReleaseStore } from './release-store.ts';
import { fleetDb, lockRows, type FleetDb } from './sql-fleet-tables.ts';

const COLUMNS = ['group_id', 'swname', 'swversion', 'components', 'registered_by', 'registered_at'] as const;

interface ReleaseRow { group_id: string; swname: string; swversion: string; components: string; registered_by: string; registered_at: number }

const toRelease = (r: ReleaseRow): ReleaseRecord => ({
  group: r.group_id, swname: r.swname, swversion: r.swversion, components: JSON.parse(r.components) as Measurement[],
  registeredBy: r.registered_by, registeredAt: r.registered_at,
});

export class SqlReleaseStore implements ReleaseStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor, private readonly engine: SqlEngine) {
    this.db = fleetDb(exec);
  }

  async list(group: string): Promise<ReleaseRecord[]> {
    const rows = await this.db.selectFrom('fleet_releases').select(COLUMNS).where('group_id', '=', group)
      .orderBy('registered_at').orderBy('swversion').execute();
    return rows.map(toRelease);
  }

  async get(group: string, swversion: string): Promise<ReleaseRecord | undefined> {
    const row = await this.db.selectFrom('fleet_releases').select(COLUMNS)
      .where('group_id', '=', group).where('swversion', '=', swversion).executeTakeFirst();
    return row && toRelease(row);
  }

  insert(release: ReleaseRecord): Promise<boolean> {
    return inTransaction(this.db, async (exec) => {
      const tx = fleetDb(exec);
      const row = await tx.insertInto('fleet_releases')
        .values({
          group_id: release.group, swname: release.swname, swversion: release.swversion, components: JSON.stringify(release.components),
          registered_by: release.registeredBy, registered_at: release.registeredAt,
        })
        .onConflict((oc) => oc.columns(['group_id', 'swversion']).doNothing())
        .returning('swversion')
        .executeTakeFirst();
      if (!row) return false;
      await this.bump(tx, release.group);
      return true;
    });
  }

  replaceComponents(group: string, swversion: string, components: readonly Measurement[]): Promise<void> {
    return inTransaction(this.db, async (exec) => {
      const tx = fleetDb(exec);
      await tx.updateTable('fleet_releases').set({ components: JSON.stringify(components) })
        .where('group_id', '=', group).where('swversion', '=', swversion).execute();
      await this.bump(tx, group);
    });
  }

  async revision(group: string): Promise<number> {
    const row = await this.db.selectFrom('fleet_groups').select('release_revision').where('id', '=', group).executeTakeFirst();
    return row?.release_revision ?? 0;
  }

  async lockGroup(group: string): Promise<void> {
    await lockRows(this.db.selectFrom('fleet_groups').select('id').where('id', '=', group), this.engine).execute();
  }

  private async bump(tx: FleetDb, group: string): Promise<void> {
    await tx.updateTable('fleet_groups').set((eb) => ({ release_revision: eb('release_revision', '+', 1) })).where('id', '=', group).execute();
  }
}
