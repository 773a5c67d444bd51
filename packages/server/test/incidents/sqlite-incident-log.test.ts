import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { SqliteIncidentLog } from '../../src/incidents/sqlite-incident-log.ts';
import type { IncidentInput } from '../../src/incidents/incident-log.ts';

const T0 = 1_750_000_000_000;
const DEV_A = 'a'.repeat(64);
const DEV_B = 'b'.repeat(64);
let db: SqliteDatabase;
let log: SqliteIncidentLog;
let clock: number;

const failed = (deviceId: string, reason: string): IncidentInput => ({
  kind: 'attestation_failed', severity: 'high', deviceId, reason, summary: `attestation refused: ${reason}`,
  detail: { swversion: '1.2.3', measurements: [{ component: 'runtime', digest: 'ab'.repeat(32) }] },
});

beforeEach(() => {
  clock = T0;
  db = openDatabase(':memory:');
  log = new SqliteIncidentLog(db, { now: () => clock });
});
afterEach(() => db.close());

describe('SqliteIncidentLog', () => {
  it('raises an open incident with an id, the injected time and its detail', () => {
    const incident = log.raise(failed(DEV_A, 'measurements_mismatch'));
    expect(incident).toEqual({ id: 1, openedAt: T0, status: 'open', ...failed(DEV_A, 'measurements_mismatch') });
    expect(log.list({})).toEqual([incident]);
  });

  it('keeps incidents without a device', () => {
    const incident = log.raise({ kind: 'ca_rotation_failed', severity: 'critical', reason: 'pki_io', summary: 's', detail: {} });
    expect(incident.deviceId).toBeUndefined();
    expect(log.list({})[0]).toEqual(incident);
  });

  it('lists newest first, filtered by device and status, bounded by limit', () => {
    log.raise(failed(DEV_A, 'nonce_replayed'));
    clock += 1;
    log.raise(failed(DEV_B, 'version_below_minimum'));
    clock += 1;
    log.raise(failed(DEV_A, 'measurements_mismatch'));
    expect(log.list({}).map((i) => i.reason)).toEqual(['measurements_mismatch', 'version_below_minimum', 'nonce_replayed']);
    expect(log.list({ deviceId: DEV_A }).map((i) => i.id)).toEqual([3, 1]);
    expect(log.list({ limit: 1 })).toHaveLength(1);
    expect(log.list({ status: 'open' })).toHaveLength(3);
    expect(log.list({ status: 'closed' })).toEqual([]);
  });

  it('refuses an unknown severity', () => {
    expect(() => log.raise({ ...failed(DEV_A, 'x'), severity: 'urgent' as 'high' })).toThrow(/severity/);
  });
});
