/**
 * The fleet's writes with the real audit chain and incident log, in one transaction on each
 * engine: a refused appraisal's record, the quarantine, their audit events and the incident
 * commit together or not at all; a pass's certificate, record and audit event likewise.
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ephemeralAuditKey } from '../../src/audit/audit-key.ts';
import { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import type { SqlExecutor } from '../../src/db/index.ts';
import { SqlIncidentLog } from '../../src/incidents/sql-incident-log.ts';
import { SQL_ENGINES } from '../../src/testing/index.ts';
import { TestGuardian, digest, fleetFixture, type FleetFixture } from './fleet-fixture.ts';

describe.each(SQL_ENGINES)('fleet units of work with the SQL audit and incident logs (%s)', (engine) => {
  let f: FleetFixture;
  let audit: SqlAuditLog;
  let incidents: SqlIncidentLog;
  /** When set, the next incident raised fails: the database refusing the unit of work's last write. */
  let failIncident = false;
  const alice = new TestGuardian('alice');

  beforeEach(async () => {
    failIncident = false;
    f = await fleetFixture({}, {
      engine,
      logs: async (database, clock) => {
        audit = await SqlAuditLog.open(database.db, { engine: database.engine, key: ephemeralAuditKey(), now: () => clock.now });
        incidents = new SqlIncidentLog(database.db, { engine: database.engine, now: () => clock.now, audit });
        return {
          audit,
          incidents: {
            raiserIn: (tx: SqlExecutor) => {
              const raiser = incidents.raiserIn(tx);
              return { raise: async (i) => { if (failIncident) throw new Error('disk full'); return raiser.raise(i); } };
            },
          },
        };
      },
    });
    await f.setupGroup([alice.configDigest]);
    await f.fleet.claim({ deviceId: alice.deviceId, site: 'dc1', group: 'ahu-gw' }, 'token:admin');
  });
  afterEach(async () => { await f.close(); });

  const rows = async (table: string) => Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(f.database.db)).rows[0]!.n);

  it('commits a quarantine with its attestation record, audit events and incident', async () => {
    const original = alice.measurements;
    alice.measurements = alice.measurements.map((m) => (m.component === 'runtime' ? { ...m, digest: digest('other node') } : m));
    try {
      const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
      await expect(f.fleet.appraise(alice.evidence(nonce, f.clock.now))).rejects.toMatchObject({ code: 'measurements_mismatch' });
    } finally {
      alice.measurements = original;
    }
    expect((await f.fleet.getClaim(alice.deviceId))?.state).toBe('quarantined');
    expect((await audit.list({ target: `device:${alice.deviceId}` })).map((e) => e.action)).toEqual(['device.claim', 'attestation.refused', 'device.quarantine']);
    expect(await incidents.list({ deviceId: alice.deviceId })).toEqual([expect.objectContaining({ kind: 'attestation_failed', reason: 'measurements_mismatch' })]);
    expect((await audit.verify()).ok).toBe(true);
  });

  it('leaves nothing of a refusal when its incident cannot be written: no record, no quarantine, no audit event', async () => {
    const eventsBefore = (await audit.list({})).length;
    const original = alice.measurements;
    alice.measurements = alice.measurements.map((m) => (m.component === 'runtime' ? { ...m, digest: digest('other node') } : m));
    failIncident = true;
    try {
      const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
      await expect(f.fleet.appraise(alice.evidence(nonce, f.clock.now))).rejects.toThrow('disk full');
    } finally {
      alice.measurements = original;
    }
    expect((await f.fleet.getClaim(alice.deviceId))?.state).toBe('claimed');
    expect(f.quarantined).toEqual([]);
    expect(await rows('fleet_attestations')).toBe(0);
    expect(await audit.list({})).toHaveLength(eventsBefore);
    expect(await incidents.list({})).toEqual([]);
    expect((await audit.verify()).ok).toBe(true);
  });

  it('commits a pass with its certificate and audit event, and a revoke with its own', async () => {
    const { nonce } = await f.fleet.challenge(alice.challengeRequest(f.clock.now));
    await f.fleet.appraise(alice.evidence(nonce, f.clock.now));
    await f.fleet.revoke(alice.deviceId, 'token:admin', 'stolen');
    expect((await audit.list({ target: `device:${alice.deviceId}` })).map((e) => e.action)).toEqual(['device.claim', 'attestation.pass', 'device.revoke']);
    expect((await audit.list({ target: `device:${alice.deviceId}` })).at(-1)?.detail).toMatchObject({ certificatesRevoked: 1, previousState: 'claimed' });
    expect(await rows('fleet_certificates')).toBe(1);
    expect((await audit.verify()).ok).toBe(true);
  });
});
