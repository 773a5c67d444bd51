/**
 * One change of the alarm domain as it must land in the database: the records and history rows
 * of the alarms it touched, the rule, override or asset rows it changed and its audit events, in
 * the order they were made, committed together (one write of the engine's ordered queue).
 */
import type { AuditEventInput, AuditRecorder } from '../audit/audit-log.ts';
import type { Alarm, AlarmEvent } from './alarm.ts';
import type { AlarmStore, NewAlarmEvent } from './alarm-store.ts';
import { isUniqueViolation } from '../db/sql-errors.ts';
import { RefusedWriteError } from './write-queue.ts';

/** What the engine's unit of work binds to one transaction. */
export interface AlarmStores {
  alarms: AlarmStore;
  audit: AuditRecorder;
}

type Operation = (stores: AlarmStores) => Promise<unknown>;

/** An alarm change an operator could see, to notify once it has committed. */
export interface CommittedChange {
  event: AlarmEvent;
  alarm: Alarm;
}

export class AlarmWrite {
  private readonly operations: Operation[] = [];
  private conflictMessage: string | undefined;
  /** Index of the history append and the alarm as it was, per change to notify. */
  private readonly notices: { index: number; alarm: Alarm }[] = [];

  get isEmpty(): boolean {
    return this.operations.length === 0;
  }

  /**
   * The alarm's record as it is now. The copy is shallow: the engine replaces `pending`,
   * `shelved` and `outOfService` whole, never edits them in place.
   */
  save(alarm: Alarm): this {
    const copy = { ...alarm };
    this.operations.push((s) => s.alarms.saveAlarm(copy));
    return this;
  }

  /** The alarm's record as it is now and the history entry of its change. */
  change(alarm: Alarm, event: NewAlarmEvent, newAnnunciation: boolean, notify: boolean): this {
    const copy = { ...alarm };
    this.operations.push((s) => s.alarms.saveAlarm(copy));
    this.operations.push((s) => s.alarms.appendEvent(event, copy.site, newAnnunciation));
    if (notify) this.notices.push({ index: this.operations.length - 1, alarm: copy });
    return this;
  }

  audit(event: AuditEventInput): this {
    this.operations.push((s) => s.audit.record(event));
    return this;
  }

  /** Any other store write (a rule, an override, an asset's profile or mode). */
  also(operation: (stores: AlarmStores) => Promise<unknown>): this {
    this.operations.push(operation);
    return this;
  }

  /** Appends `other`'s operations and notices after this one's (one transaction for both). */
  absorb(other: AlarmWrite): this {
    const offset = this.operations.length;
    this.operations.push(...other.operations);
    for (const n of other.notices) this.notices.push({ index: n.index + offset, alarm: n.alarm });
    return this;
  }

  /**
   * A key another writer already holds (a UNIQUE violation) refuses this whole write, never to
   * be retried (RefusedWriteError with `message`), instead of retrying it forever.
   */
  refuseConflicts(message: string): this {
    this.conflictMessage = message;
    return this;
  }

  /** Runs every operation in order on `stores` (one transaction); returns the changes to notify. */
  async run(stores: AlarmStores): Promise<CommittedChange[]> {
    const results: unknown[] = [];
    for (const op of this.operations) {
      try {
        results.push(await op(stores));
      } catch (err) {
        if (this.conflictMessage !== undefined && isUniqueViolation(err)) throw new RefusedWriteError(this.conflictMessage);
        throw err;
      }
    }
    return this.notices.map((n) => ({ event: results[n.index] as AlarmEvent, alarm: n.alarm }));
  }
}
