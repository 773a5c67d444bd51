/** {@link GroupStore} in SQL (kysely; the same code on SQLite and PostgreSQL). */
import { inTransaction, type SqlEngine, type SqlExecutor } from '../db/sql-database.ts';
import type { GroupRecord } from './fleet-types.ts';
import type { GroupDefinition, GroupStore } from './group-store.ts';
import { fleetDb, lockRows, type FleetDb } from './sql-fleet-tables.ts';
import { byCodeUnits } from './sql-order.ts';

const COLUMNS = ['id', 'site', 'min_secure_version', 'updated_by', 'updated_at'] as const;

interface GroupRow { id: string; site: string; min_secure_version: string; updated_by: string; updated_at: number }

const toGroup = (r: GroupRow): GroupRecord => ({
  id: r.id, site: r.site, minSecureVersion: r.min_secure_version, updatedBy: r.updated_by, updatedAt: r.updated_at,
});

export class SqlGroupStore implements GroupStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor, private readonly engine: SqlEngine) {
    this.db = fleetDb(exec);
  }

  async get(id: string): Promise<GroupRecord | undefined> {
    const row = await this.db.selectFrom('fleet_groups').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toGroup(row);
  }

  async list(): Promise<GroupRecord[]> {
    const rows = await this.db.selectFrom('fleet_groups').select(COLUMNS).orderBy('id').execute();
    return rows.map(toGroup).sort((a, b) => byCodeUnits(a.id, b.id));
  }

  define(group: GroupRecord): Promise<GroupDefinition> {
    return inTransaction(this.db, async (exec) => {
      const tx = fleetDb(exec);
      const before = await lockRows(tx.selectFrom('fleet_groups').select(COLUMNS).where('id', '=', group.id), this.engine).executeTakeFirst();
      if (before && before.site !== group.site) return { outcome: 'site_mismatch', existing: toGroup(before) };
      // The WHERE keeps the site even against a definition that raced the read above (no row lock on a row not yet there).
      const written = await tx.insertInto('fleet_groups')
        .values({ id: group.id, site: group.site, min_secure_version: group.minSecureVersion, updated_by: group.updatedBy, updated_at: group.updatedAt })
        .onConflict((oc) => oc.column('id')
          .doUpdateSet({ min_secure_version: group.minSecureVersion, updated_by: group.updatedBy, updated_at: group.updatedAt })
          .where('fleet_groups.site', '=', group.site))
        .returning('id')
        .executeTakeFirst();
      if (!written) {
        const existing = await tx.selectFrom('fleet_groups').select(COLUMNS).where('id', '=', group.id).executeTakeFirstOrThrow();
        return { outcome: 'site_mismatch', existing: toGroup(existing) };
      }
      return before ? { outcome: 'updated', group, previous: toGroup(before) } : { outcome: 'created', group };
    });
  }
}
