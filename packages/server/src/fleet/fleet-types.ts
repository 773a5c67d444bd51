/**
 * The fleet's domain records: what the services hand out and what the store ports take and return.
 * No SQL type crosses them (STYLE.md §1).
 */
import type { AttestationRefusal, DeviceReport, Measurement } from '@shellguard/protocol';
import type { ComponentDifference } from './reference-values.ts';

export type ClaimState = 'claimed' | 'quarantined' | 'revoked';

export interface ClaimInput {
  deviceId: string;
  site: string;
  group: string;
}

export interface ClaimRecord extends ClaimInput {
  state: ClaimState;
  /** Why the state last changed (refusal code or the operator's reason). */
  reason?: string;
  claimedBy: string;
  claimedAt: number;
  changedBy: string;
  changedAt: number;
}

export interface ClaimManyError {
  /** 1-based line (the input's own `line` when given, else its position). */
  line: number;
  deviceId?: string;
  code: string;
  reason: string;
}

export interface ClaimManyResult {
  claimed: ClaimRecord[];
  errors: ClaimManyError[];
}

export interface GroupInput {
  id: string;
  site: string;
  minSecureVersion: string;
}

export interface GroupRecord extends GroupInput {
  updatedBy: string;
  updatedAt: number;
}

export interface ReleaseInput {
  group: string;
  swname: string;
  swversion: string;
  components: Measurement[];
}

export interface ReleaseRecord extends ReleaseInput {
  registeredBy: string;
  registeredAt: number;
}

export interface AttestationRecord {
  deviceId: string;
  at: number;
  result: 'pass' | 'fail';
  reason?: AttestationRefusal;
  /** false when the evidence could not be shown to come from the device (forged, replayed). */
  authentic: boolean;
  swversion?: string;
  measurements?: Measurement[];
  certSerial?: string;
  certNotAfter?: number;
}

/** An operational certificate the fleet issued, as its ledger keeps it (serial normalised). */
export interface IssuedCertificate {
  serial: string;
  deviceId: string;
  issuedAt: number;
  notAfter: number;
  revokedAt?: number;
}

export interface FleetDeviceView {
  deviceId: string;
  site: string;
  group: string;
  state: ClaimState;
  stateReason?: string;
  stateChangedAt: number;
  /** The newest appraisal of evidence authentically from this device. */
  lastAttestation?: { at: number; result: 'pass' | 'fail'; reason?: AttestationRefusal };
  swversion?: string;
  measurements?: Measurement[];
  /** Expiry of the newest unrevoked operational certificate (epoch ms). */
  certificateNotAfter?: number;
  reportCount: number;
  /** Reports this server dropped by the rate limit since it started. */
  reportsDropped: number;
}

export interface VersionDrift {
  deviceId: string;
  site: string;
  group: string;
  swversion: string;
  measuredAt: number;
  /** The release the group should run (its newest). */
  target: { swname: string; swversion: string };
  differences: ComponentDifference[];
}

export interface StoredReport {
  deviceId: string;
  /** Server time of receipt (epoch ms). */
  receivedAt: number;
  /** Device time of the event (epoch ms). */
  at: number;
  kind: DeviceReport['kind'];
  message: string;
  detail: string;
}
