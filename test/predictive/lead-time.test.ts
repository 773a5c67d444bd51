/**
 * End to end in the simulator: a slow fault starts on one asset — a fan bearing wearing on an AHU,
 * a generator's coolant temperature drifting (a failing jacket-water heater thermostat) — and the
 * physics of the simulated site (its SiteModel, stepped on simulated time) feeds the real server
 * — broker over mutual TLS, ingest, store, alarm engine, live analytics — as an enrolled device
 * publishing Sparkplug DDATA. A predictive maintenance recommendation must come before the
 * shipped limit alarm (fan vibration 4.5 mm/s, ISO 10816; coolant 95 degC); the lead time is reported.
 *
 * The Modbus hop (sim server -> guardian) is left out here on purpose: it has its own interop and
 * wire tests, and simulated hours must pass in seconds, which a real poller cannot do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultKind } from '@shellguard/sim';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';
import { replayFault } from './replay-fault.ts';

const HOUR = 3_600_000;
const STEP_MS = 30_000;           // one poll every 30 simulated seconds
/** A day: live analytics learns each point's drift baseline from its first day of minute means. */
const LEARNED = 24 * HOUR;

let site: TestSite;
// scoreShare 1: hours are replayed in seconds, far beyond any real-time budget (bench/live measures
// the budget); the test checks that nothing was skipped.
beforeAll(async () => { site = await startTestSite('sg-predictive-', { analytics: { scoreShare: 1 } }); });
afterAll(async () => { await site?.close(); });

interface Case {
  what: string;
  type: 'ahu' | 'generator';
  fault: FaultKind;
  /** The fault begins this long into the run (the asset is healthy before). */
  faultAfterMs: number;
  runMs: number;
  /** Points a recommendation for this fault may name. */
  points: string[];
  /** The shipped limit alarm the recommendation must beat. */
  rule: string;
}

const CASES: Case[] = [
  { what: 'a wearing fan bearing', type: 'ahu', fault: 'fan-bearing', faultAfterMs: LEARNED + 3 * HOUR, runMs: LEARNED + 16 * HOUR, points: ['fan_vibration', 'fan_motor_current'], rule: 'ahu-fan-vibration' },
  { what: 'a drifting generator coolant temperature', type: 'generator', fault: 'coolant-drift', faultAfterMs: LEARNED + 3 * HOUR, runMs: LEARNED + 30 * HOUR, points: ['coolant_temp'], rule: 'gen-coolant-temp' },
];

describe.each(CASES)('$what in the simulator', (c) => {
  it('is recommended for maintenance before the limit alarm fires', async () => {
    const { server } = site;
    const start = Date.now() - c.runMs - HOUR;
    const { asset: assetId, published, acked } = await replayFault(site, { type: c.type, fault: c.fault, start, faultAfterMs: c.faultAfterMs, runMs: c.runMs, stepMs: STEP_MS });
    expect(acked).toBe(published);
    expect(server.live.stats(), 'every bucket was scored').toMatchObject({ bucketsSkipped: 0, degraded: false });

    const all = (await server.maintenance.recommendations({ site: SITE })).filter((r) => r.asset === assetId).sort((a, b) => a.at - b.at);
    const recommendation = all.find((r) => c.points.includes(r.point));
    const alarm = server.alarms.list({ site: SITE }).find((a) => a.ruleId === c.rule && a.level === 'h' && a.asset === assetId);
    expect(recommendation, `a maintenance recommendation on ${c.points.join(' or ')}`).toBeDefined();
    expect(alarm?.activeSince, `the ${c.rule} alarm fires`).toBeTypeOf('number');
    const alarmAt = alarm!.activeSince!;
    const at = (ms: number) => `+${((ms - start) / HOUR).toFixed(2)} h`;
    console.log(`${c.fault} on ${assetId}: fault at ${at(start + c.faultAfterMs)}, recommendation on ${recommendation!.point} (z ${recommendation!.zScore.toFixed(1)}) at ${at(recommendation!.at)}, `
      + `${c.rule} alarm at ${at(alarmAt)}: lead time ${((alarmAt - recommendation!.at) / HOUR).toFixed(2)} h`);
    console.log(`all recommendations for ${assetId}: ${all.map((r) => `${r.point} at ${at(r.at)}`).join(', ')}`);
    // Nothing was recommended while the asset was healthy.
    expect(all.filter((r) => r.at <= start + c.faultAfterMs)).toEqual([]);
    expect(recommendation!.at).toBeGreaterThan(start + c.faultAfterMs);
    expect(recommendation!.at).toBeLessThan(alarmAt);
    expect(recommendation!.chart).toMatch(/^\/api\/v1\/points\/\d+\/samples\?/);
  });
});
