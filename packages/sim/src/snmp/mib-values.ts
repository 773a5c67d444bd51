/**
 * MIB-native values a real agent derives from its own state, made from the physics' points for
 * the profiles that have them: the simulator's UPS knows `on_battery`, an RFC 1628 agent says
 * upsOutputSource battery(5). One adapter per profile id; other profiles serve physics as is.
 */
import type { PointValues } from '../physics/types.ts';

type Adapter = (v: Readonly<PointValues>) => PointValues;

const ADAPTERS: Record<string, Adapter> = {
  // UPS-MIB (RFC 1628) §upsOutputSource, upsBatteryStatus, upsAlarmsPresent.
  'ups-rfc1628': (v) => ({
    output_source: v.on_battery ? 5 : v.on_bypass ? 4 : 3,
    battery_status: v.battery_low ? 3 : 2,
    alarms_present: [v.on_battery, v.battery_low, v.ups_fault, v.on_bypass].filter(Boolean).length,
  }),
};

/** The physics' values plus the profile's MIB-native ones. */
export function mibValues(profileId: string, values: Readonly<PointValues>): PointValues {
  const adapter = ADAPTERS[profileId];
  return adapter ? { ...values, ...adapter(values) } : { ...values };
}
