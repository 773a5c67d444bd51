/** {@link CertificateStore} in SQL (kysely; the same code on SQLite and PostgreSQL). */
import type { SqlExecutor } from '../db/sql-database.ts';
import type { CertificateStore } from './certificate-store.ts';
import type { IssuedCertificate } from './fleet-types.ts';
import { fleetDb, type FleetDb } from './sql-fleet-tables.ts';

export class SqlCertificateStore implements CertificateStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor) {
    this.db = fleetDb(exec);
  }

  async record(c: Omit<IssuedCertificate, 'revokedAt'>): Promise<void> {
    await this.db.insertInto('fleet_certificates')
      .values({ serial: c.serial, device_id: c.deviceId, issued_at: c.issuedAt, not_after: c.notAfter, revoked_at: null })
      .execute();
  }

  async get(serial: string): Promise<IssuedCertificate | undefined> {
    const r = await this.db.selectFrom('fleet_certificates').select(['serial', 'device_id', 'issued_at', 'not_after', 'revoked_at'])
      .where('serial', '=', serial).executeTakeFirst();
    return r && {
      serial: r.serial, deviceId: r.device_id, issuedAt: r.issued_at, notAfter: r.not_after, ...(r.revoked_at !== null ? { revokedAt: r.revoked_at } : {}),
    };
  }

  async revoke(serial: string, at: number): Promise<boolean> {
    const result = await this.db.updateTable('fleet_certificates').set({ revoked_at: at })
      .where('serial', '=', serial).where('revoked_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async revokeAllOf(deviceId: string, at: number): Promise<number> {
    const result = await this.db.updateTable('fleet_certificates').set({ revoked_at: at })
      .where('device_id', '=', deviceId).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async revokedUnexpired(now: number): Promise<{ serial: string; revokedAt: number }[]> {
    const rows = await this.db.selectFrom('fleet_certificates').select(['serial', 'revoked_at'])
      .where('revoked_at', 'is not', null).where('not_after', '>', now).orderBy('serial').execute();
    return rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at! }));
  }
}
