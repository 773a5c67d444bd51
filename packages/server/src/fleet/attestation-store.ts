/** The record of every appraisal: passed or refused, authentic or not, and what it measured. */
import type { AttestationRecord } from './fleet-types.ts';

export interface AttestationStore {
  record(attestation: AttestationRecord): Promise<void>;
  /** A device's appraisals, newest first, at most `limit`. */
  list(deviceId: string, limit: number): Promise<AttestationRecord[]>;
}
