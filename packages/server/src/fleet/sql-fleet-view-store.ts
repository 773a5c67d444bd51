/** {@link FleetViewStore} in SQL (kysely; the same code on SQLite and PostgreSQL): one query for the whole view. */
import type { Measurement } from '@shellguard/protocol';
import type { SqlExecutor } from '../db/sql-database.ts';
import type { FleetViewStore, StoredDeviceView } from './fleet-view-store.ts';
import { fleetDb, type FleetDb } from './sql-fleet-tables.ts';
import { byCodeUnits } from './sql-order.ts';

export class SqlFleetViewStore implements FleetViewStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor) {
    this.db = fleetDb(exec);
  }

  async devices(): Promise<StoredDeviceView[]> {
    const rows = await this.db.selectFrom('fleet_claims as c')
      // The newest appraisal of evidence authentically from the device (forgeries are anyone's).
      .leftJoin('fleet_attestations as a', (join) => join.on('a.id', '=', (eb) => eb.selectFrom('fleet_attestations as x').select('x.id')
        .whereRef('x.device_id', '=', 'c.device_id').where('x.authentic', '=', 1).orderBy('x.id', 'desc').limit(1)))
      .select([
        'c.device_id', 'c.site', 'c.group_id', 'c.state', 'c.reason', 'c.changed_at',
        'a.at as a_at', 'a.result as a_result', 'a.reason as a_reason', 'a.swversion as a_swversion', 'a.measurements as a_measurements',
      ])
      .select((eb) => [
        eb.selectFrom('fleet_certificates as k').select((k) => k.fn.max('k.not_after').as('m'))
          .whereRef('k.device_id', '=', 'c.device_id').where('k.revoked_at', 'is', null).as('cert_not_after'),
        eb.selectFrom('fleet_reports as r').select((r) => r.fn.countAll().as('n')).whereRef('r.device_id', '=', 'c.device_id').as('report_count'),
      ])
      .orderBy('c.site').orderBy('c.group_id').orderBy('c.device_id')
      .execute();
    return rows
      .map((r): StoredDeviceView => ({
        deviceId: r.device_id, site: r.site, group: r.group_id, state: r.state,
        ...(r.reason !== null ? { stateReason: r.reason } : {}),
        stateChangedAt: r.changed_at,
        ...(r.a_at !== null && r.a_result !== null
          ? { lastAttestation: { at: r.a_at, result: r.a_result, ...(r.a_reason !== null ? { reason: r.a_reason } : {}) } }
          : {}),
        ...(r.a_swversion !== null ? { swversion: r.a_swversion } : {}),
        ...(r.a_measurements !== null ? { measurements: JSON.parse(r.a_measurements) as Measurement[] } : {}),
        ...(r.cert_not_after !== null && r.cert_not_after !== undefined ? { certificateNotAfter: Number(r.cert_not_after) } : {}),
        reportCount: Number(r.report_count ?? 0),
      }))
      .sort((a, b) => byCodeUnits(a.site, b.site) || byCodeUnits(a.group, b.group) || byCodeUnits(a.deviceId, b.deviceId));
  }
}
