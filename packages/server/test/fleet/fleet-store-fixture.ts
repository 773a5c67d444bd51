/**
 * The fleet's SQL stores on a fresh, migrated test database of either engine, for the contract
 * suites (one per port, each run on SQLite and PostgreSQL).
 */
import { migrateServerDatabase, sqlUnitOfWork, type SqlDatabase, type SqlEngine, type UnitOfWork } from '../../src/db/index.ts';
import { sqlFleetStores, type FleetStores } from '../../src/fleet/index.ts';
import { createTestDatabase, type TestDatabase } from '../../src/testing/index.ts';
import type { ClaimRecord, GroupRecord } from '../../src/fleet/index.ts';

export const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);

export interface FleetStoreFixture {
  test: TestDatabase;
  database: SqlDatabase;
  stores: FleetStores;
  uow: UnitOfWork<FleetStores>;
  /**
   * Another replica's stores: on PostgreSQL its own pool; on SQLite the same connection (a server
   * has one, and a second in this process would block the event loop while it waits on a lock).
   */
  replica(): { stores: FleetStores; uow: UnitOfWork<FleetStores> };
  destroy(): Promise<void>;
}

export async function fleetStoreFixture(engine: SqlEngine, label: string): Promise<FleetStoreFixture> {
  const test = await createTestDatabase(engine, label);
  const database = test.database;
  await migrateServerDatabase(database);
  const on = (d: SqlDatabase) => ({ stores: sqlFleetStores(d.db, d.engine), uow: sqlUnitOfWork(d, (tx) => sqlFleetStores(tx, d.engine)) });
  return {
    test, database, ...on(database),
    replica: () => on(engine === 'postgres' ? test.reopen() : database),
    destroy: () => test.destroy(),
  };
}

/** A device id (64 lowercase hex) from a short name. */
export function deviceId(n: number): string {
  return n.toString(16).padStart(64, '0');
}

export function groupRecord(id: string, site = 'dc1', minSecureVersion = '1.0.0', at = T0): GroupRecord {
  return { id, site, minSecureVersion, updatedBy: 'token:admin', updatedAt: at };
}

export function claimRecord(device: string, group = 'g1', site = 'dc1', at = T0): ClaimRecord {
  return { deviceId: device, site, group, state: 'claimed', claimedBy: 'token:admin', claimedAt: at, changedBy: 'token:admin', changedAt: at };
}

/** Thrown inside a unit of work to roll it back. */
export class Rollback extends Error {}
