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
import { Quality, controlTopic, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, type Sample } from '@shellguard/protocol';
import { SiteModel, loadProfiles, planSite, type FaultKind } from '@shellguard/sim';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';

const HOUR = 3_600_000;
const STEP_MS = 30_000;           // one poll every 30 simulated seconds

let site: TestSite;
beforeAll(async () => { site = await startTestSite('sg-predictive-'); });
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
  { what: 'a wearing fan bearing', type: 'ahu', fault: 'fan-bearing', faultAfterMs: 3 * HOUR, runMs: 16 * HOUR, points: ['fan_vibration', 'fan_motor_current'], rule: 'ahu-fan-vibration' },
  { what: 'a drifting generator coolant temperature', type: 'generator', fault: 'coolant-drift', faultAfterMs: 3 * HOUR, runMs: 30 * HOUR, points: ['coolant_temp'], rule: 'gen-coolant-temp' },
];

describe.each(CASES)('$what in the simulator', (c) => {
  it('is recommended for maintenance before the limit alarm fires', async () => {
    const { keys, server } = site;
    const plan = planSite(32);
    const asset = plan.find((a) => a.type === c.type)!;
    const profile = loadProfiles().get(asset.profile)!;
    const start = Date.now() - c.runMs - HOUR;
    const model = new SiteModel({ assets: plan, seed: 7, startMs: start });

    const client = await site.connect();
    let acked = 0;
    client.on('message', (_t, payload) => { acked += decodeBatchAck(payload).stored.length; });
    await client.subscribeAsync(controlTopic(keys.deviceId, 'down', 'ack'));
    await client.publishAsync(sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: keys.deviceId, device: asset.id }), Buffer.from(encodeDeviceBirth({
      name: asset.name, type: asset.type, area: asset.area, profile: asset.profile,
      points: profile.points.map((p) => ({ name: p.name, unit: p.unit, kind: p.kind, description: p.description })),
    }, { sparkplugSeq: 0, now: start })));

    const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: keys.deviceId, device: asset.id });
    let seq = 0;
    let faultInjected = false;
    for (let t = start; t <= start + c.runMs; t += STEP_MS) {
      if (!faultInjected && t >= start + c.faultAfterMs) {
        model.injectFault({ asset: asset.id, kind: c.fault });
        faultInjected = true;
      }
      model.step(t);
      const values = model.values(asset.id);
      const samples: Sample[] = profile.points.map((p) => ({ point: p.name, ts: t, value: values[p.name] ?? null, quality: values[p.name] === undefined ? Quality.bad : Quality.good }));
      seq += 1;
      client.publish(topic, Buffer.from(encodeDeviceData({ epoch: c.fault, seq }, samples, { sparkplugSeq: seq & 0xff, now: t })), { qos: 0 });
      // Let the server keep up: never more than 200 batches unacknowledged.
      while (seq - acked > 200) await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 400 && acked < seq; i++) await new Promise((r) => setTimeout(r, 25));
    await client.endAsync();
    expect(acked).toBe(seq);

    const all = (await server.maintenance.recommendations({ site: SITE })).filter((r) => r.asset === asset.id).sort((a, b) => a.at - b.at);
    const recommendation = all.find((r) => c.points.includes(r.point));
    const alarm = server.alarms.list({ site: SITE }).find((a) => a.ruleId === c.rule && a.level === 'h' && a.asset === asset.id);
    expect(recommendation, `a maintenance recommendation on ${c.points.join(' or ')}`).toBeDefined();
    expect(alarm?.activeSince, `the ${c.rule} alarm fires`).toBeTypeOf('number');
    const alarmAt = alarm!.activeSince!;
    const at = (ms: number) => `+${((ms - start) / HOUR).toFixed(2)} h`;
    console.log(`${c.fault} on ${asset.id}: fault at ${at(start + c.faultAfterMs)}, recommendation on ${recommendation!.point} (z ${recommendation!.zScore.toFixed(1)}) at ${at(recommendation!.at)}, `
      + `${c.rule} alarm at ${at(alarmAt)}: lead time ${((alarmAt - recommendation!.at) / HOUR).toFixed(2)} h`);
    console.log(`all recommendations for ${asset.id}: ${all.map((r) => `${r.point} at ${at(r.at)}`).join(', ')}`);
    // Nothing was recommended while the asset was healthy.
    expect(all.filter((r) => r.at <= start + c.faultAfterMs)).toEqual([]);
    expect(recommendation!.at).toBeGreaterThan(start + c.faultAfterMs);
    expect(recommendation!.at).toBeLessThan(alarmAt);
    expect(recommendation!.chart).toMatch(/^\/api\/v1\/points\/\d+\/samples\?/);
  });
});
