import type { FaultKind } from './types.ts';

export const DEFAULT_FAULT_RATE: Record<FaultKind, number> = {
  'fan-bearing': 0.3,
  'coolant-drift': 2.5,
  'valve-fouling': 1,
  'fan-belt-slip': 0.5,
};

/**
 * Extra fan vibration (mm/s RMS) after `hours` of bearing wear. Wear accelerates as the race
 * pits: the rate doubles after 24 h. For scale, ISO 10816-1 class II zone boundaries are
 * 1.12 / 2.8 / 7.1 mm/s (A/B, B/C, C/D).
 */
export function bearingWear(ratePerHour: number, hours: number): number {
  if (hours <= 0) return 0;
  return ratePerHour * hours * (1 + hours / 24);
}

/** Coolant temperature offset (degC) after `hours` of drift. */
export function coolantDrift(ratePerHour: number, hours: number): number {
  return hours <= 0 ? 0 : ratePerHour * hours;
}

/** Share of capacity lost (0..0.6) after `hours` of a fault progressing `ratePerHour` percent an hour (valve fouling, belt slip). */
export function capacityLoss(ratePerHour: number, hours: number): number {
  return hours <= 0 ? 0 : Math.min(0.6, (ratePerHour * hours) / 100);
}
