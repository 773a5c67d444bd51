/** The fleet view's read model: every claim with its newest authentic appraisal, certificate expiry and report count. */
import type { FleetDeviceView } from './fleet-types.ts';

/** A device as stored; the rate limit's dropped-report count is the server's own and added by FleetView. */
export type StoredDeviceView = Omit<FleetDeviceView, 'reportsDropped'>;

export interface FleetViewStore {
  /** Every claimed device (in any state), by site, group and device id (code-unit order). */
  devices(): Promise<StoredDeviceView[]>;
}
