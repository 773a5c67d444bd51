/**
 * The audit log port (ARCHITECTURE.md §2): every state-changing action lands in an append-only,
 * keyed hash chain. Each event's hash is an HMAC, under a key kept outside the database, over the
 * event and the previous event's hash; the chain's head is anchored outside the database too.
 * Editing, re-chaining, deleting or cutting off events is therefore detected, and `verify()`
 * says what and where.
 */
export interface AuditEventInput {
  /** Who acted: `token:<id>` for an API token, `device:<id>` for a guardian, `system` for the server itself. */
  actor: string;
  /** Dotted verb, e.g. device.claim, device.revoke, attestation.refused, group.release.register */
  action: string;
  /** What it acted on, e.g. `device:<id>`, `group:<id>`. */
  target: string;
  /** Facts needed to understand the event later. Never secrets. */
  detail: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  seq: number;
  at: number;
  prevHash: string;
  hash: string;
}

/** What verification can find. The list crosses the API: add codes, never rename them. */
export const AUDIT_PROBLEM_CODES = [
  /** The event's content no longer matches its keyed hash (edited, or re-hashed without the key). */
  'event_edited',
  /** The event's prevHash is not the previous event's hash. */
  'chain_broken',
  /** Sequence numbers are missing: events were deleted. */
  'event_missing',
  /** An anchor records more events than the log holds: its tail was cut off. */
  'truncated',
  /** An anchor records another hash (or keying) for an event than the log holds: history was rewritten. */
  'anchor_mismatch',
  /** A line of the anchor file is not an anchor signed with this key: edited, forged or torn. */
  'anchor_invalid',
  /** Anchors were expected but there are none: the anchor file was deleted or emptied. */
  'anchors_missing',
  /** The key used to verify is not the one the database says its chain was written with. */
  'key_mismatch',
] as const;
export type AuditProblemCode = (typeof AUDIT_PROBLEM_CODES)[number];

export interface AuditProblem {
  code: AuditProblemCode;
  /** The first event concerned, when the problem is about events. */
  seq?: number;
  /** The last event concerned, when the problem spans several (seq..lastSeq). */
  lastSeq?: number;
  /** The anchor file line concerned (1-based), for anchor problems. */
  line?: number;
  /** What is wrong, for a person. */
  message: string;
}

export interface AuditAnchorSummary {
  seq: number;
  hash: string;
  at: number;
  /** Line in the anchor file. */
  line: number;
}

export interface AuditVerification {
  /** True when there is no problem at all. */
  ok: boolean;
  /** Events present in the log. */
  events: number;
  /** The first event a problem concerns, when not ok (kept for clients of the first version). */
  brokenAt?: number;
  /**
   * Events from this sequence number on are keyed (HMAC); those before it were written before
   * the chain was keyed and are bound by the first keyed event's prevHash and by the anchors.
   * Absent when the chain was never keyed.
   */
  keyedFromSeq?: number;
  problems: AuditProblem[];
  /** Problems found beyond those listed (the list is bounded). */
  omittedProblems?: number;
  anchors: { checked: number; newest?: AuditAnchorSummary };
}

export interface AuditListOptions {
  afterSeq?: number | undefined;
  beforeSeq?: number | undefined;
  newestFirst?: boolean | undefined;
  limit?: number | undefined;
  target?: string | undefined;
  /** Exactly this actor, e.g. `user:alice`. */
  actor?: string | undefined;
  /** Actions starting with this, e.g. `alarm.` or `alarm.acknowledge`. */
  actionPrefix?: string | undefined;
}

/**
 * What a domain needs to leave an audit event: the narrow port a unit of work hands out, so the
 * event commits in the same transaction as the change it records (db/unit-of-work.ts).
 */
export interface AuditRecorder {
  record(event: AuditEventInput): Promise<AuditEvent>;
}

export interface AuditLog extends AuditRecorder {
  /**
   * A page of events: oldest first after `afterSeq` (default), or with `newestFirst` the newest
   * ones before `beforeSeq` (all of them when absent), newest first.
   */
  list(options: AuditListOptions): Promise<AuditEvent[]>;
  verify(): Promise<AuditVerification>;
}
