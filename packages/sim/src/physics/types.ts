/** The vocabulary of the physics model. */

export const ASSET_TYPES = ['ahu', 'crah', 'ups', 'pdu', 'generator', 'panel'] as const;
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
export type FaultKind = 'fan-bearing' | 'coolant-drift';

export interface FaultSpec {
  asset: string;
  kind: FaultKind;
  ratePerHour?: number;
}

export interface ActiveFault {
  asset: string;
  kind: FaultKind;
  ratePerHour: number;
  /** Simulated time at which the fault began (epoch ms). */
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
