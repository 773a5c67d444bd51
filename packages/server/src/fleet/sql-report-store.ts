/** {@link ReportStore} in SQL (kysely; the same code on SQLite and PostgreSQL). */
import { inTransaction, type SqlExecutor } from '../db/sql-database.ts';
import type { StoredReport } from './fleet-types.ts';
import type { ReportStore } from './report-store.ts';
import { fleetDb, type FleetDb } from './sql-fleet-tables.ts';

export class SqlReportStore implements ReportStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor) {
    this.db = fleetDb(exec);
  }

  append(report: StoredReport, keep: number): Promise<void> {
    return inTransaction(this.db, async (exec) => {
      const tx = fleetDb(exec);
      await tx.insertInto('fleet_reports').values({
        device_id: report.deviceId, received_at: report.receivedAt, at: report.at, kind: report.kind, message: report.message, detail: report.detail,
      }).execute();
      // Everything at or below the (keep + 1)-th newest id of this device goes.
      await tx.deleteFrom('fleet_reports')
        .where('device_id', '=', report.deviceId)
        .where('id', '<=', (eb) => eb.selectFrom('fleet_reports').select('id').where('device_id', '=', report.deviceId)
          .orderBy('id', 'desc').limit(1).offset(Math.max(0, Math.trunc(keep))))
        .execute();
    });
  }

  async list(deviceId: string): Promise<StoredReport[]> {
    const rows = await this.db.selectFrom('fleet_reports').select(['device_id', 'received_at', 'at', 'kind', 'message', 'detail'])
      .where('device_id', '=', deviceId).orderBy('id', 'desc').execute();
    return rows.map((r) => ({ deviceId: r.device_id, receivedAt: r.received_at, at: r.at, kind: r.kind, message: r.message, detail: r.detail }));
  }
}
