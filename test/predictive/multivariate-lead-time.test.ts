/**
 * End to end in the simulator, as lead-time.test.ts, for a fault that moves several points a
 * little: the chilled-water coil and valve of an AHU fouling (the valve opens further for the same
 * duty). The real server — broker over mutual TLS, ingest, store, alarm engine, live analytics —
 * learns the AHU's normal state from a week of minute means (live analytics' default declared-normal
 * period for its asset models), then the fault begins. An asset-level maintenance recommendation
 * that names the valve among the points that moved must come before the shipped alarm for the
 * consequence, the valve held fully open (`ahu-chw-valve-saturated`: the unit at its cooling
 * capacity); the lead time is reported.
 *
 * The production per-point detectors run beside the asset model on the same buckets; the test
 * reports when the first point-level recommendation came, for comparison (bench/multivariate
 * compares the two ways on many episodes). Simulated time starts at a UTC midnight, so the
 * simulated days (load and weather follow the UTC clock) are the same whenever the test runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';
import { replayFault } from './replay-fault.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** One poll a minute: one sample per analytics bucket. */
const STEP_MS = 60_000;
const FAULT_AFTER_MS = 7 * DAY + 2 * HOUR;
const RUN_MS = 8 * DAY + 12 * HOUR;
const RULE = 'ahu-chw-valve-saturated';

let site: TestSite;
beforeAll(async () => {
  // scoreShare 1: days are replayed in seconds, far beyond any real-time budget (bench/live measures
  // the budget); the test checks that nothing was skipped.
  site = await startTestSite('sg-multivariate-', { analytics: { scoreShare: 1 } });
});
afterAll(async () => { await site?.close(); });

describe('a fouling chilled-water valve on an AHU in the simulator', () => {
  it('is recommended for maintenance as an asset, with the points that moved, before the valve saturates', async () => {
    const { server } = site;
    const start = Math.floor(Date.now() / DAY) * DAY - 9 * DAY;
    const faultAt = start + FAULT_AFTER_MS;
    const { asset: assetId, published, acked } = await replayFault(site, { type: 'ahu', fault: 'valve-fouling', start, faultAfterMs: FAULT_AFTER_MS, runMs: RUN_MS, stepMs: STEP_MS });
    expect(acked).toBe(published);
    expect(server.live.stats(), 'every bucket was scored').toMatchObject({ bucketsSkipped: 0, degraded: false });
    expect(server.live.stats().assetModels.scoring, 'the AHU model learned its week and scores').toBeGreaterThanOrEqual(1);

    const all = (await server.maintenance.recommendations({ site: SITE })).filter((r) => r.asset === assetId).sort((a, b) => a.at - b.at);
    const at = (ms: number) => `+${((ms - start) / HOUR).toFixed(2)} h`;
    console.log(`all recommendations for ${assetId}: ${all.map((r) => `${r.method} ${r.point} at ${at(r.at)}`).join(', ') || 'none'}`);
    expect(all.filter((r) => r.method === 'asset' && r.at <= faultAt), 'no asset-level recommendation while the AHU was healthy').toEqual([]);
    const rec = all.find((r) => r.method === 'asset' && r.at > faultAt);
    expect(rec, 'an asset-level recommendation after the fault began').toBeDefined();
    const alarm = server.alarms.list({ site: SITE }).find((a) => a.ruleId === RULE && a.asset === assetId);
    expect(alarm?.activeSince, `the ${RULE} alarm fires`).toBeTypeOf('number');
    const alarmAt = alarm!.activeSince!;
    const moves = rec!.moves!;
    console.log(`valve-fouling on ${assetId}: fault at ${at(faultAt)}; asset-level recommendation at ${at(rec!.at)} (since ${at(rec!.since)}): `
      + moves.slice(0, 4).map((m) => `${m.point} ${m.z.toFixed(1)} σ (normal ${m.normalMean.toFixed(2)} ± ${m.normalStd.toFixed(2)}, ${(m.share * 100).toFixed(0)} %)`).join(', ')
      + `; ${RULE} alarm at ${at(alarmAt)}: lead time ${((alarmAt - rec!.at) / HOUR).toFixed(2)} h`);
    // The per-point path learns each point's baseline from a day, so the daily load is normal to it
    // too (with an hour's baseline it raised 24 false recommendations on this healthy week).
    expect(all.filter((r) => r.method === 'point' && r.at <= faultAt), 'no point-level recommendation while the AHU was healthy').toEqual([]);
    const pointRec = all.find((r) => r.method === 'point' && r.at > faultAt);
    console.log(`  first point-level recommendation after the fault: ${pointRec ? `${pointRec.point} at ${at(pointRec.at)}, ${((pointRec.at - rec!.at) / HOUR).toFixed(2)} h after the asset-level one` : 'none in the run'}`);
    // It says which points moved, by how much against their learned normal, and since when.
    expect(moves.length).toBeGreaterThanOrEqual(2);
    expect(moves.slice(0, 2).map((m) => m.point), 'the valve is among what moved most').toContain('chw_valve_position');
    expect(rec!.point).toBe(moves[0]!.point);
    expect(rec!.since).toBeGreaterThan(faultAt);
    expect(rec!.at).toBeLessThan(alarmAt);
    expect(rec!.chart).toMatch(/^\/api\/v1\/points\/\d+\/samples\?/);

    // After the repair an engineer declares the AHU normal again over the API: its model learns
    // anew (screening first), and the act is in the audit trail with who did it.
    const scoringBefore = server.live.stats().assetModels.scoring;
    const relearn = await site.post('/api/v1/asset-models/relearn', { site: SITE, asset: assetId });
    expect(relearn.status, relearn.text).toBe(200);
    expect(JSON.parse(relearn.text)).toMatchObject({ site: SITE, asset: assetId, assetModel: true, points: expect.any(Number) as number });
    expect(server.live.stats().assetModels.scoring).toBe(scoringBefore - 1);
    const audit = JSON.parse((await site.get('/api/v1/audit?limit=1000')).text) as { events: { action: string; target: string; actor: string }[] };
    expect(audit.events.filter((e) => e.action === 'analytics.relearn')).toEqual([
      expect.objectContaining({ target: `asset:${SITE}/${assetId}`, actor: expect.stringMatching(/^token:/) as string }),
    ]);
    expect((await site.post('/api/v1/asset-models/relearn', { site: SITE, asset: 'no-such-ahu' })).status).toBe(404);
  });
});
