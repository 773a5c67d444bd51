/**
 * Labelled multivariate fault data from the simulator's physics (issue 14): episodes of one
 * cooling unit (an AHU or a CRAH) sampled once a minute, a declared-normal period first, then a
 * test period in which one fault may begin. Every sample of the test period is labelled: 1 from
 * the moment the fault begins, 0 before it (and throughout a `none` episode).
 *
 * Faults: the physics' own (`fan-bearing`, `valve-fouling`, `fan-belt-slip`: each moves several
 * points a little, as real ones do) and two sensor faults applied to what the unit reports
 * (`sensor-drift`: one point's reading drifts; `sensor-stuck`: one point's reading freezes), which
 * move one point and break its relation to the others. Rates are slow on purpose: the question is
 * how early a detector sees a fault, not whether it sees a broken machine.
 *
 * Deterministic: the same options give the same episodes.
 */
import { SiteModel } from '../physics/site-model.ts';
import { Rng } from '../physics/random.ts';
import type { FaultKind } from '../physics/types.ts';

export const EPISODE_FAULTS = ['none', 'fan-bearing', 'valve-fouling', 'fan-belt-slip', 'sensor-drift', 'sensor-stuck'] as const;
export type EpisodeFault = (typeof EPISODE_FAULTS)[number];

/** The analog points of each unit type that are measurements (setpoints and states left out). */
export const EPISODE_POINTS = {
  ahu: ['supply_air_temp', 'return_air_temp', 'mixed_air_temp', 'outdoor_air_temp', 'supply_air_humidity', 'duct_static_pressure',
    'supply_fan_speed', 'fan_motor_current', 'fan_vibration', 'filter_diff_pressure', 'chw_valve_position'],
  crah: ['return_air_temp', 'supply_air_temp', 'return_air_humidity', 'fan_speed', 'fan_motor_current', 'fan_vibration',
    'chw_valve_position', 'chw_supply_temp', 'chw_return_temp', 'cooling_output'],
} as const;

export interface FaultEpisode {
  id: string;
  unit: 'ahu' | 'crah';
  fault: EpisodeFault;
  /** The point a sensor fault acts on. */
  sensor?: string;
  points: readonly string[];
  /** Sample times, epoch ms, one a minute. */
  ts: number[];
  /** values[i][j]: point j at ts[i]. */
  values: number[][];
  /** Samples of the declared-normal period (training); the test period follows. */
  normalSamples: number;
  /** 0/1 per sample (all 0 in the normal period). */
  labels: number[];
  /** Index of the first faulty sample, or -1. */
  faultStart: number;
}

export interface FaultEpisodeOptions {
  /** Episodes per (unit type, fault) pair (default 2). */
  perKind?: number;
  /** Days of declared-normal operation (default 3). */
  normalDays?: number;
  /** Days of test period (default 2). */
  testDays?: number;
  seed?: number;
  faults?: readonly EpisodeFault[];
}

const MINUTE = 60_000;
/** Physics fault rates (per hour), slow enough that a day passes before an alarm limit would. */
const PHYSICS_RATE: Record<Exclude<EpisodeFault, 'none' | 'sensor-drift' | 'sensor-stuck'>, number> = {
  'fan-bearing': 0.04, 'valve-fouling': 0.6, 'fan-belt-slip': 0.4,
};

function* episodeSpecs(o: Required<FaultEpisodeOptions>): Generator<{ unit: 'ahu' | 'crah'; fault: EpisodeFault; n: number }> {
  for (const unit of ['ahu', 'crah'] as const) for (const fault of o.faults) for (let n = 0; n < o.perKind; n++) yield { unit, fault, n };
}

export function faultEpisodes(options: FaultEpisodeOptions = {}): FaultEpisode[] {
  const o: Required<FaultEpisodeOptions> = {
    perKind: options.perKind ?? 2, normalDays: options.normalDays ?? 3, testDays: options.testDays ?? 2, seed: options.seed ?? 14, faults: options.faults ?? EPISODE_FAULTS,
  };
  const out: FaultEpisode[] = [];
  let k = 0;
  for (const spec of episodeSpecs(o)) out.push(episode(spec.unit, spec.fault, o, o.seed * 1000 + k++, spec.n));
  return out;
}

function episode(unit: 'ahu' | 'crah', fault: EpisodeFault, o: Required<FaultEpisodeOptions>, seed: number, n: number): FaultEpisode {
  const r = new Rng(seed);
  const rng = (): number => r.next();
  const id = `${unit.toUpperCase()}-01`;
  // A different start of year per episode: another season, another outdoor and load pattern.
  const start = Date.UTC(2025, 0, 1) + Math.floor(rng() * 300) * 86_400_000;
  const model = new SiteModel({ assets: [{ id, type: unit }], seed, startMs: start });
  const points = EPISODE_POINTS[unit];
  const normalSamples = Math.round((o.normalDays * 86_400_000) / MINUTE);
  const testSamples = Math.round((o.testDays * 86_400_000) / MINUTE);
  // The fault begins between 6 and 18 hours into the test period.
  const faultStart = fault === 'none' ? -1 : normalSamples + Math.round((6 + 12 * rng()) * 60);
  const sensorIndex = Math.floor(rng() * points.length);
  const sensor = fault === 'sensor-drift' || fault === 'sensor-stuck' ? points[sensorIndex] : undefined;
  const ts: number[] = [];
  const values: number[][] = [];
  const labels: number[] = [];
  let stuckValue: number | undefined;
  let sensorStd = 1;
  for (let i = 0; i < normalSamples + testSamples; i++) {
    const now = start + (i + 1) * MINUTE;
    if (i === faultStart && fault !== 'none' && fault !== 'sensor-drift' && fault !== 'sensor-stuck') {
      model.injectFault({ asset: id, kind: fault as FaultKind, ratePerHour: PHYSICS_RATE[fault] * (0.75 + 0.5 * rng()) });
    }
    model.step(now);
    const v = model.values(id);
    const row = points.map((p) => Number(v[p]));
    if (i === normalSamples - 1 && sensor !== undefined) {
      // The sensor fault's size is set against that point's own normal spread.
      const col = values.map((r) => r[sensorIndex]!);
      const mean = col.reduce((a, b) => a + b, 0) / col.length;
      sensorStd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length) || 1;
    }
    if (faultStart >= 0 && i >= faultStart) {
      const hours = (i - faultStart) / 60;
      // Drift of half the point's normal spread per 6 hours; stuck at the last good reading.
      if (fault === 'sensor-drift') row[sensorIndex] = row[sensorIndex]! + (0.5 * sensorStd * hours) / 6;
      if (fault === 'sensor-stuck') row[sensorIndex] = (stuckValue ??= values[values.length - 1]![sensorIndex]!);
    }
    ts.push(now);
    values.push(row);
    labels.push(faultStart >= 0 && i >= faultStart ? 1 : 0);
  }
  return { id: `${unit}-${fault}-${n + 1}`, unit, fault, ...(sensor ? { sensor } : {}), points, ts, values, normalSamples, labels, faultStart };
}
