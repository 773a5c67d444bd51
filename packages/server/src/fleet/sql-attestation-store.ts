/** {@link AttestationStore} in SQL (kysely; the same code on SQLite and PostgreSQL). */
import type { AttestationRefusal, Measurement } from '@shellguard/protocol';
import type { SqlExecutor } from '../db/sql-database.ts';
import type { AttestationStore } from './attestation-store.ts';
import type { AttestationRecord } from './fleet-types.ts';
import { fleetDb, type FleetDb } from './sql-fleet-tables.ts';

const COLUMNS = ['device_id', 'at', 'result', 'reason', 'authentic', 'swversion', 'measurements', 'cert_serial', 'cert_not_after'] as const;

interface AttestationRow {
  device_id: string; at: number; result: 'pass' | 'fail'; reason: AttestationRefusal | null; authentic: number;
  swversion: string | null; measurements: string | null; cert_serial: string | null; cert_not_after: number | null;
}

const toAttestation = (r: AttestationRow): AttestationRecord => ({
  deviceId: r.device_id, at: r.at, result: r.result, ...(r.reason !== null ? { reason: r.reason } : {}),
  authentic: r.authentic === 1,
  ...(r.swversion !== null ? { swversion: r.swversion } : {}),
  ...(r.measurements !== null ? { measurements: JSON.parse(r.measurements) as Measurement[] } : {}),
  ...(r.cert_serial !== null ? { certSerial: r.cert_serial } : {}),
  ...(r.cert_not_after !== null ? { certNotAfter: r.cert_not_after } : {}),
});

export class SqlAttestationStore implements AttestationStore {
  private readonly db: FleetDb;

  constructor(exec: SqlExecutor) {
    this.db = fleetDb(exec);
  }

  async record(a: AttestationRecord): Promise<void> {
    await this.db.insertInto('fleet_attestations').values({
      device_id: a.deviceId, at: a.at, result: a.result, reason: a.reason ?? null, authentic: a.authentic ? 1 : 0,
      swversion: a.swversion ?? null, measurements: a.measurements ? JSON.stringify(a.measurements) : null,
      cert_serial: a.certSerial ?? null, cert_not_after: a.certNotAfter ?? null,
    }).execute();
  }

  async list(deviceId: string, limit: number): Promise<AttestationRecord[]> {
    const rows = await this.db.selectFrom('fleet_attestations').select(COLUMNS).where('device_id', '=', deviceId)
      .orderBy('id', 'desc').limit(Math.max(1, Math.trunc(limit))).execute();
    return rows.map(toAttestation);
  }
}
