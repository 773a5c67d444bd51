/** Claims: which device belongs to which site and group, and in what standing (claimed, quarantined, revoked). */
import type { ClaimRecord, ClaimState } from './fleet-types.ts';

export interface ClaimStateChange {
  to: ClaimState;
  /** Only a claim currently in one of these states changes. */
  from: readonly ClaimState[];
  /** Why (kept until the next change); none clears it. */
  reason?: string;
  by: string;
  at: number;
}

export interface ClaimStore {
  get(deviceId: string): Promise<ClaimRecord | undefined>;
  /**
   * The claim, held so that no other unit of work changes it until this one ends (a row lock on
   * PostgreSQL; SQLite's single writer already serialises). Call it inside a unit of work.
   */
  getForUpdate(deviceId: string): Promise<ClaimRecord | undefined>;
  /** Adds a claim; false (and nothing changed) when the device already has one, in whatever state. */
  insert(claim: ClaimRecord): Promise<boolean>;
  /** Moves the claim to `change.to` if it is in one of `change.from`; the updated claim, or undefined when it was not. */
  changeState(deviceId: string, change: ClaimStateChange): Promise<ClaimRecord | undefined>;
}
