/** Crash and error reports guardians upload, the newest few per device. */
import type { StoredReport } from './fleet-types.ts';

export interface ReportStore {
  /** Stores the report and drops the device's oldest beyond the newest `keep`. */
  append(report: StoredReport, keep: number): Promise<void>;
  /** A device's reports, newest first. */
  list(deviceId: string): Promise<StoredReport[]>;
}
