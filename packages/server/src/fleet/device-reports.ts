/** Crash and error reports guardians upload over MQTT: rate-limited per device, the newest kept. */
import type { DeviceReport } from '@shellguard/protocol';
import type { ClaimStore } from './claim-store.ts';
import type { StoredReport } from './fleet-types.ts';
import type { ReportStore } from './report-store.ts';

export const MAX_REPORTS_PER_DEVICE = 100;
export const REPORTS_PER_MINUTE = 10;
const MAX_REPORT_DETAIL = 16 * 1024;

export interface DeviceReportsOptions {
  reports: ReportStore;
  claims: Pick<ClaimStore, 'get'>;
  now: () => number;
}

export class DeviceReports {
  private readonly store: ReportStore;
  private readonly claims: Pick<ClaimStore, 'get'>;
  private readonly now: () => number;
  /**
   * The rate limit is this server's: a device's reports arrive over its one MQTT session, which
   * one replica's broker holds, so per replica is per device. What it dropped is counted here too.
   */
  private readonly windows = new Map<string, number[]>();
  private readonly dropped = new Map<string, number>();

  constructor(options: DeviceReportsOptions) {
    this.store = options.reports;
    this.claims = options.claims;
    this.now = options.now;
  }

  /**
   * Stores a guardian's report: at most REPORTS_PER_MINUTE per device (the rest are counted and
   * dropped) and the newest MAX_REPORTS_PER_DEVICE kept. Resolves to whether it was stored.
   */
  async recordReport(deviceId: string, report: DeviceReport): Promise<boolean> {
    if (!(await this.claims.get(deviceId))) return false;
    const now = this.now();
    const window = (this.windows.get(deviceId) ?? []).filter((t) => t > now - 60_000);
    if (window.length >= REPORTS_PER_MINUTE) {
      this.windows.set(deviceId, window);
      this.dropped.set(deviceId, (this.dropped.get(deviceId) ?? 0) + 1);
      return false;
    }
    window.push(now);
    this.windows.set(deviceId, window);
    await this.store.append({
      deviceId, receivedAt: now, at: Number.isFinite(report.at) ? report.at : now, kind: report.kind,
      message: String(report.message).slice(0, 500), detail: String(report.detail).slice(0, MAX_REPORT_DETAIL),
    }, MAX_REPORTS_PER_DEVICE);
    return true;
  }

  /** A device's stored reports, newest first. */
  reports(deviceId: string): Promise<StoredReport[]> {
    return this.store.list(deviceId);
  }

  /** How many reports of this device the rate limit dropped since this server started. */
  reportsDropped(deviceId: string): number {
    return this.dropped.get(deviceId) ?? 0;
  }
}
