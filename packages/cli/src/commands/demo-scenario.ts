/**
 * What `shellguard demo --scenario <name>` makes happen on the simulated site.
 *
 * - `none`: today's slow faults, in real time — a fan bearing wearing on the first AHU and a
 *   coolant temperature drifting on the first generator. They begin a day and an hour in, once
 *   live analytics has learned every point's normal day, and take hours more to show.
 * - `bearing-wear`: the predictive-maintenance story in five minutes (issue 9). Two clocks are
 *   compressed, nothing else: live analytics works on 1-second means instead of minute means
 *   (baseline, probation and the sustain time are counted in buckets, so they shrink 60×), and the
 *   bearing wears 240× faster than real time. The site's noise, the guardians' 1-second polling, the
 *   broker, ingest, the alarm rules (4.5 mm/s for 30 s) and the detectors are the real ones.
 */
import type { LiveAnalyticsTuning } from '@shellguard/server';
import type { SimulatedSite } from '@shellguard/sim';

export const DEMO_SCENARIO_NAMES = ['none', 'bearing-wear'] as const;
export type DemoScenarioName = (typeof DEMO_SCENARIO_NAMES)[number];

export interface DemoScenario {
  /** Time scale and tuning of the server's live analytics, if the scenario changes them. */
  analytics?: LiveAnalyticsTuning;
  /**
   * Injects the scenario's faults and starts its timers, once the guardians are running; returns
   * what to print about it and how to stop its timers. `announce` prints a line later on.
   */
  start(sim: SimulatedSite, announce: (line: string) => void): RunningScenario;
}

export interface RunningScenario {
  lines: string[];
  stop(): void;
}

/** The numbers of `--scenario bearing-wear` (the test holds the demo to them). */
export const BEARING_WEAR_SCENARIO = {
  /** Live analytics buckets: 1 s (instead of 60 s). */
  bucketMs: 1_000,
  /**
   * 60 one-second means cannot see the slow wander an hour of minute means learns (fan speed over
   * a minute or two, IT load over 45 minutes), so the baseline's spread is floored at 8 % of its
   * level instead of 1 %: without it, healthy fans are recommended within 20 minutes. The wearing
   * bearing still reaches a z-score above 10 when it is recommended.
   */
  relativeStdFloor: 0.08,
  /**
   * The drift baseline learns from the same 60 one-second means instead of a day of buckets (the
   * real default: a day of a point's load cycle), so the five-minute story can happen at all.
   */
  driftBaselineBuckets: 60,
  /** The bearing starts wearing once the baseline (60 s of data, plus the first poll) is learned. */
  faultStartsAfterMs: 75_000,
  /** Fault hours per real hour: 4 h of wear a minute; 4.5 mm/s is ~9 h of wear at 0.3 mm/s/h. */
  timeScale: 240,
  /** The bearing is replaced (the fault cleared) after this long. */
  repairAfterMs: 10 * 60_000,
  /** The promise printed and tested: a recommendation first, then the limit alarm, within 5 minutes. */
  alarmWithinMs: 5 * 60_000,
  alarmRule: 'ahu-fan-vibration',
} as const;

const clock = (ms: number): string => `${Math.floor(ms / 60_000)}:${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}`;

const firstOf = (sim: SimulatedSite, type: string): string | undefined => sim.assets.find((a) => a.type === type)?.id;

/** `--scenario none`: the slow faults begin a day and an hour after the demo starts. */
export const REAL_TIME_FAULTS_AFTER_MS = 25 * 3_600_000;

const realTimeFaults: DemoScenario = {
  start(sim) {
    // Slow faults for the predictive-maintenance story: a wearing fan bearing and a drifting coolant temperature.
    const ahu = firstOf(sim, 'ahu');
    const gen = firstOf(sim, 'generator');
    // After the day each point's drift baseline learns from (live analytics' driftBaselineBuckets).
    if (ahu) sim.model.injectFault({ asset: ahu, kind: 'fan-bearing', startsAfterMs: REAL_TIME_FAULTS_AFTER_MS });
    if (gen) sim.model.injectFault({ asset: gen, kind: 'coolant-drift', startsAfterMs: REAL_TIME_FAULTS_AFTER_MS });
    return { lines: [], stop: () => {} };
  },
};

const bearingWear: DemoScenario = {
  analytics: { bucketMs: BEARING_WEAR_SCENARIO.bucketMs, relativeStdFloor: BEARING_WEAR_SCENARIO.relativeStdFloor, driftBaselineBuckets: BEARING_WEAR_SCENARIO.driftBaselineBuckets },
  start(sim, announce) {
    const s = BEARING_WEAR_SCENARIO;
    const ahu = firstOf(sim, 'ahu');
    if (!ahu) return { lines: ['  scenario bearing-wear: this site has no AHU (use --assets 1 or more): nothing to show'], stop: () => {} };
    sim.model.injectFault({ asset: ahu, kind: 'fan-bearing', timeScale: s.timeScale, startsAfterMs: s.faultStartsAfterMs });
    const repair = setTimeout(() => {
      sim.model.clearFault(ahu, 'fan-bearing');
      announce(`  scenario bearing-wear: ${clock(s.repairAfterMs)} the fan bearing of ${ahu} was replaced; vibration falls back to normal`);
    }, s.repairAfterMs);
    const startedAt = new Date().toISOString().slice(11, 19);
    return {
      lines: [
        `  scenario bearing-wear (time-compressed): the fan bearing of ${ahu} wears ${s.timeScale}× faster than real time`,
        `  (${s.timeScale / 60} h of wear a minute) and analytics uses ${s.bucketMs / 1000}-second means instead of minute means.`,
        `  From now (${startedAt} UTC), roughly:`,
        `    0:00–1:00  every point's healthy baseline is learned (60 one-second means)`,
        `    ${clock(s.faultStartsAfterMs)}       the bearing starts wearing: ${ahu} fan_vibration climbs from ~1.2 mm/s`,
        `    ~2:20      maintenance recommendation for ${ahu} fan_vibration (dashboard; GET /api/v1/recommendations)`,
        `    ~4:00      alarm ${s.alarmRule}: over 4.5 mm/s for 30 s (priority high) — within ${clock(s.alarmWithinMs)}`,
        `    ~5:00      over 7.1 mm/s: the alarm becomes critical; ~6:00 the fan fault trips (ahu-fan-fault)`,
        `    ${clock(s.repairAfterMs)}      the bearing is replaced: vibration drops, the alarm returns to normal (acknowledge it)`,
      ],
      stop: () => clearTimeout(repair),
    };
  },
};

export const DEMO_SCENARIOS: Record<DemoScenarioName, DemoScenario> = {
  none: realTimeFaults,
  'bearing-wear': bearingWear,
};
