/**
 * End to end in the simulator: a fan bearing starts wearing on AHU-01; the physics of the
 * simulated site (its SiteModel, stepped on simulated time) feeds the real server — broker over
 * mutual TLS, ingest, store, alarm engine, live analytics — as an enrolled device publishing
 * Sparkplug DDATA. A predictive maintenance recommendation must come before the shipped fan
 * vibration limit alarm (4.5 mm/s, ISO 10816); the lead time is reported.
 *
 * The Modbus hop (sim server -> guardian) is left out here on purpose: it has its own interop and
 * wire tests, and simulated hours must pass in seconds, which a real poller cannot do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Quality, controlTopic, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, type Sample } from '@shellguard/protocol';
import { SiteModel, loadProfiles, planSite } from '@shellguard/sim';
import { SITE, startTestSite, type TestSite } from '../support/enrolled-device.ts';

const HOUR = 3_600_000;
const STEP_MS = 30_000;           // one poll of the AHU every 30 simulated seconds
const FAULT_AFTER_MS = 3 * HOUR;  // the bearing is healthy for the first three hours
const RUN_MS = 16 * HOUR;

let site: TestSite;
beforeAll(async () => { site = await startTestSite('sg-predictive-'); });
afterAll(async () => { await site?.close(); });

describe('a wearing fan bearing in the simulator', () => {
  it('is recommended for maintenance before the vibration limit alarm fires', async () => {
    const { keys, server } = site;
    const plan = planSite(32);
    const ahu = plan.find((a) => a.type === 'ahu')!;
    const profile = loadProfiles().get(ahu.profile)!;
    const start = Date.now() - RUN_MS - HOUR;
    const model = new SiteModel({ assets: plan, seed: 7, startMs: start });

    const client = await site.connect();
    let acked = 0;
    client.on('message', (_t, payload) => { acked += decodeBatchAck(payload).stored.length; });
    await client.subscribeAsync(controlTopic(keys.deviceId, 'down', 'ack'));
    await client.publishAsync(sparkplugTopic({ group: SITE, type: 'DBIRTH', edge: keys.deviceId, device: ahu.id }), Buffer.from(encodeDeviceBirth({
      name: ahu.name, type: ahu.type, area: ahu.area, profile: ahu.profile,
      points: profile.points.map((p) => ({ name: p.name, unit: p.unit, kind: p.kind, description: p.description })),
    }, { sparkplugSeq: 0, now: start })));

    const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge: keys.deviceId, device: ahu.id });
    let seq = 0;
    let faultInjected = false;
    for (let t = start; t <= start + RUN_MS; t += STEP_MS) {
      if (!faultInjected && t >= start + FAULT_AFTER_MS) {
        model.injectFault({ asset: ahu.id, kind: 'fan-bearing' });
        faultInjected = true;
      }
      model.step(t);
      const values = model.values(ahu.id);
      const samples: Sample[] = profile.points.map((p) => ({ point: p.name, ts: t, value: values[p.name] ?? null, quality: values[p.name] === undefined ? Quality.bad : Quality.good }));
      seq += 1;
      client.publish(topic, Buffer.from(encodeDeviceData({ epoch: 'bearing-wear', seq }, samples, { sparkplugSeq: seq & 0xff, now: t })), { qos: 0 });
      // Let the server keep up: never more than 200 batches unacknowledged.
      while (seq - acked > 200) await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 400 && acked < seq; i++) await new Promise((r) => setTimeout(r, 25));
    await client.endAsync();
    expect(acked).toBe(seq);

    const all = (await server.maintenance.recommendations({ site: SITE })).filter((r) => r.asset === ahu.id).sort((a, b) => a.at - b.at);
    // The fault shows in the fan: vibration, and the friction it adds to the motor current.
    const recommendation = all.find((r) => r.point === 'fan_vibration' || r.point === 'fan_motor_current');
    const alarm = server.alarms.list({ site: SITE }).find((a) => a.ruleId === 'ahu-fan-vibration' && a.level === 'h' && a.asset === ahu.id);
    expect(recommendation, 'a maintenance recommendation on the wearing fan').toBeDefined();
    expect(alarm?.activeSince, 'the 4.5 mm/s vibration alarm fires').toBeTypeOf('number');
    const alarmAt = alarm!.activeSince!;
    const at = (ms: number) => `+${((ms - start) / HOUR).toFixed(2)} h`;
    console.log(`bearing wear on ${ahu.id}: fault at ${at(start + FAULT_AFTER_MS)}, recommendation on ${recommendation!.point} (z ${recommendation!.zScore.toFixed(1)}) at ${at(recommendation!.at)}, `
      + `vibration alarm at ${at(alarmAt)}: lead time ${((alarmAt - recommendation!.at) / HOUR).toFixed(2)} h`);
    console.log(`all recommendations for ${ahu.id}: ${all.map((r) => `${r.point} at ${at(r.at)}`).join(', ')}`);
    // Nothing was recommended while the bearing was healthy.
    expect(all.filter((r) => r.at <= start + FAULT_AFTER_MS)).toEqual([]);
    expect(recommendation!.at).toBeGreaterThan(start + FAULT_AFTER_MS);
    expect(recommendation!.at).toBeLessThan(alarmAt);
    expect(recommendation!.chart).toMatch(/^\/api\/v1\/points\/\d+\/samples\?/);
  });
});
