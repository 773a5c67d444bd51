/** Shared fixture of the alarm tests: fake time, an engine on a database, samples. */
import { Quality, type Sample } from '@shellguard/protocol';
import { SqliteAuditLog } from '../../src/audit/sqlite-audit-log.ts';
import { auditKeyFromBytes } from '../../src/audit/audit-key.ts';
import type { SqliteDatabase } from '../../src/db/database.ts';
import { AlarmEngine, type AlarmEngineOptions } from '../../src/alarms/alarm-engine.ts';
import type { Scheduler } from '../../src/alarms/scheduler.ts';

export const T0 = 1_750_000_000_000;
export const SITE = 'dc1';
export const AHU = 'AHU-1';
export const GEN = 'GEN-1';

/** Fake time: a clock and a scheduler whose timers run only when `advance` passes them. */
export class FakeTime implements Scheduler {
  now = T0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  /** Every delay asked for, in order. */
  readonly delays: number[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.delays.push(ms);
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  pendingTimers(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = until;
  }
}

export function sample(point: string, value: number | boolean | null, ts: number, quality: number = Quality.good): Sample {
  return { point, value, ts, quality: quality as Sample['quality'] };
}

const TEST_AUDIT_KEY = auditKeyFromBytes(Buffer.alloc(32, 7));

export function openEngine(db: SqliteDatabase, time: FakeTime, extra: Partial<AlarmEngineOptions> = {}) {
  // One key for every engine opened on this database (a restart reopens it with the same key).
  const audit = new SqliteAuditLog(db, { now: () => time.now, key: TEST_AUDIT_KEY });
  const profiles: Record<string, string> = { [`${SITE}/${AHU}`]: 'ahu-test', [`${SITE}/AHU-2`]: 'ahu-test', [`${SITE}/${GEN}`]: 'gen-test' };
  const engine = new AlarmEngine({
    db, audit, now: () => time.now, scheduler: time,
    assetProfile: (site, asset) => profiles[`${site}/${asset}`] ?? (asset.startsWith('AHU-') ? 'ahu-test' : undefined),
    ...extra,
  });
  return { engine, audit };
}

export const OPERATOR = 'token:op-1';
