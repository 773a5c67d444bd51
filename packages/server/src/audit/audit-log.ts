/**
 * The audit log port (ARCHITECTURE.md §2): every state-changing action lands in an append-only,
 * hash-chained log. Each event's hash covers the previous event's hash, so removing or editing
 * any event breaks the chain from there on, and `verify()` says where.
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

export interface AuditVerification {
  ok: boolean;
  events: number;
  /** First sequence number whose hash does not match, when not ok. */
  brokenAt?: number;
}

export interface AuditLog {
  record(event: AuditEventInput): AuditEvent;
  list(options: { afterSeq?: number; limit?: number; target?: string }): AuditEvent[];
  verify(): AuditVerification;
}
