/** The vocabulary of the physics model. */

export const ASSET_TYPES = ['ahu', 'crah', 'ups', 'pdu', 'generator', 'panel', 'server'] as const;
export type AssetType = (typeof ASSET_TYPES)[number];

/** Engineering values of one asset, keyed by the point names of its equipment profile. */
export type PointValues = Record<string, number | boolean>;

export interface SimAsset {
  id: string;
  type: AssetType;
}

/**
 * Slow faults the model can develop:
 * - `fan-bearing` (AHU, CRAH): fan vibration and motor current rise over hours; `ratePerHour` is the
 *   initial rise of vibration in mm/s per hour (default 0.3); wear accelerates (rate doubles after 24 h).
 * - `coolant-drift` (generator): coolant temperature drifts up by `ratePerHour` degC per hour (default 2.5).
 */
/**
 * Faults the physics can develop. Cooling units: `fan-bearing` (vibration and current rise),
 * `valve-fouling` (the chilled-water coil and valve lose capacity: the valve opens further for the
 * same duty, the water warms less, the supply air warms once the valve saturates), `fan-belt-slip`
 * (the fan moves less air at the same speed: the return air warms, the motor draws less, the belt
 * flutters). Generators: `coolant-drift`.
 */
export type FaultKind = 'fan-bearing' | 'coolant-drift' | 'valve-fouling' | 'fan-belt-slip';

export interface FaultSpec {
  asset: string;
  kind: FaultKind;
  ratePerHour?: number;
  /**
   * How many times faster than the model's clock the fault develops (default 1). At 180, one
   * minute shows what three hours of wear would: a demo's fault, not a real one.
   */
  timeScale?: number;
  /** The fault begins this long after it is injected, simulated ms (default 0: at once). */
  startsAfterMs?: number;
}

export interface ActiveFault {
  asset: string;
  kind: FaultKind;
  ratePerHour: number;
  /** Fault hours per hour of the model's clock (1 = real time). */
  timeScale: number;
  /** Simulated time at which the fault began, or begins (epoch ms). */
  sinceMs: number;
}

/** Shared conditions of one step, computed before any equipment. */
export interface SiteConditions {
  nowMs: number;
  dtSec: number;
  /** -1..1, peaks mid-afternoon (UTC). */
  diurnal: number;
  itLoadKw: number;
  utilityVoltage: number;
  gridFrequency: number;
  chwSupplyTemp: number;
  outdoorTemp: number;
  /** Shared deviation of room humidity from nominal, %RH. */
  humidityOffset: number;
  elecRoomTemp: number;
}
