/** {@link ClaimStore} in SQL (kysely; the same code on SQLite and PostgreSQL). */
import type { SqlEngine, SqlExecutor } from '../db/sql-database.ts';
import type { ClaimStateChange, ClaimStore } from './claim-store.ts';
import type { ClaimRecord, ClaimState } from './fleet-types.ts';
import { fleetDb, lockRows, type FleetDb } from './sql-fleet-tables.ts';

const COLUMNS = ['device_id', 'site', 'group_id', 'state', 'reason', 'claimed_by', 'claimed_at', 'changed_by', 'changed_at'] as const;

interface ClaimRow {
  device_id: string; site: string; group_id: string; state: ClaimState; reason: string | null;
  claimed_by: string; claimed_at: number; changed_by: string; changed_at: number;
}

const toClaim = (r: ClaimRow): ClaimRecord => ({
  deviceId: r.device_id, site: r.site, group: r.group_id, state: r.state, ...(r.reason !== null ? { reason: r.reason } : {}),
  claimedBy: r.claimed_by, claimedAt: r.claimed_at, changedBy: r.changed_by, changedAt: r.changed_at,
});

export class SqlClaimStore implements ClaimStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor, private readonly engine: SqlEngine) {
    this.db = fleetDb(exec);
  }

  async get(deviceId: string): Promise<ClaimRecord | undefined> {
    const row = await this.db.selectFrom('fleet_claims').select(COLUMNS).where('device_id', '=', deviceId).executeTakeFirst();
    return row && toClaim(row);
  }

  async getForUpdate(deviceId: string): Promise<ClaimRecord | undefined> {
    const row = await lockRows(this.db.selectFrom('fleet_claims').select(COLUMNS).where('device_id', '=', deviceId), this.engine).executeTakeFirst();
    return row && toClaim(row);
  }

  async insert(claim: ClaimRecord): Promise<boolean> {
    const row = await this.db.insertInto('fleet_claims')
      .values({
        device_id: claim.deviceId, site: claim.site, group_id: claim.group, state: claim.state, reason: claim.reason ?? null,
        claimed_by: claim.claimedBy, claimed_at: claim.claimedAt, changed_by: claim.changedBy, changed_at: claim.changedAt,
      })
      .onConflict((oc) => oc.column('device_id').doNothing())
      .returning('device_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async changeState(deviceId: string, change: ClaimStateChange): Promise<ClaimRecord | undefined> {
    if (change.from.length === 0) return undefined;
    const row = await this.db.updateTable('fleet_claims')
      .set({ state: change.to, reason: change.reason ?? null, changed_by: change.by, changed_at: change.at })
      .where('device_id', '=', deviceId)
      .where('state', 'in', [...change.from])
      .returning(COLUMNS)
      .executeTakeFirst();
    return row && toClaim(row);
  }
}
