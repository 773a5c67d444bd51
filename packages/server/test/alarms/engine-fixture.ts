/** Shared fixture of the alarm tests: fake time, an engine on a database, samples. */
import { Quality, type Sample, type TimerHandle } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { auditKeyFromBytes } from '../../src/audit/audit-key.ts';
import { AUDIT_MIGRATIONS } from '../../src/audit/audit-schema.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { sqlUnitOfWork } from '../../src/db/unit-of-work.ts';
import { AlarmEngine, type AlarmEngineOptions } from '../../src/alarms/alarm-engine.ts';
import { ALARM_MIGRATIONS } from '../../src/alarms/alarm-schema.ts';
import { SqlAlarmStore } from '../../src/alarms/sql-alarm-store.ts';

export const T0 = 1_750_000_000_000;
export const SITE = 'dc1';
export const AHU = 'AHU-1';
export const GEN = 'GEN-1';

/** A ManualClock that also remembers every timeout asked of it. */
class RecordingClock extends ManualClock {
  /** Every timeout delay asked for, in order. */
  readonly delays: number[] = [];

  override setTimeout(fn: () => void, ms: number): TimerHandle {
    this.delays.push(ms);
    return super.setTimeout(fn, ms);
  }
}

/**
 * Fake time: `clock` is what components are given; `now` reads it and, set, jumps it without
 * running timers; `advance` runs the timers it passes.
 */
export class FakeTime {
  readonly clock = new RecordingClock(T0);

  get now(): number {
    return this.clock.now();
  }

  set now(time: number) {
    this.clock.setTime(time);
  }

  get delays(): readonly number[] {
    return this.clock.delays;
  }

  pendingTimers(): number {
    return this.clock.dueTimes().length;
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }
}

export function sample(point: string, value: number | boolean | null, ts: number, quality: number = Quality.good): Sample {
  return { point, value, ts, quality: quality as Sample['quality'] };
}

const TEST_AUDIT_KEY = auditKeyFromBytes(Buffer.alloc(32, 7));

/** An in-memory SQLite database (the engine's behaviour is the same on PostgreSQL: see the contract suite). */
export function memoryDatabase(): SqlDatabase {
  return openSqliteSqlDatabase(':memory:');
}

/**
 * A loaded engine on `database` (its alarm and audit tables migrated), with the audit log its
 * unit of work records into. Opening a second one on the same database is a restart.
 */
export async function openEngine(database: SqlDatabase, time: FakeTime, extra: Partial<AlarmEngineOptions> = {}) {
  await runSqlMigrations(database, 'audit', AUDIT_MIGRATIONS);
  await runSqlMigrations(database, 'alarms', ALARM_MIGRATIONS);
  // One key for every engine opened on this database (a restart reopens it with the same key).
  const audit = await SqlAuditLog.open(database.db, { engine: database.engine, key: TEST_AUDIT_KEY, now: () => time.now });
  const profiles: Record<string, string> = { [`${SITE}/${AHU}`]: 'ahu-test', [`${SITE}/AHU-2`]: 'ahu-test', [`${SITE}/${GEN}`]: 'gen-test' };
  const engine = new AlarmEngine({
    store: new SqlAlarmStore(database.db),
    unitOfWork: sqlUnitOfWork(database, (tx) => ({ alarms: new SqlAlarmStore(tx), audit: audit.recorderIn(tx) })),
    clock: time.clock,
    assetProfile: (site, asset) => profiles[`${site}/${asset}`] ?? (asset.startsWith('AHU-') ? 'ahu-test' : undefined),
    ...extra,
  });
  await engine.load();
  return { engine, audit };
}

export const OPERATOR = 'token:op-1';
