/**
 * The simulator's physics replayed into a real test site as an enrolled device publishing
 * Sparkplug DDATA (lead-time.test.ts, multivariate-lead-time.test.ts): one asset of a 32-asset
 * site, healthy until `faultAfterMs`, then with `fault`, one batch every `stepMs` of simulated time
 * until `runMs`. At most 200 batches are unacknowledged, so the server keeps up; resolves once
 * every batch is acknowledged (or returns the counts so the caller can say it was not).
 */
import { Quality, controlTopic, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, type Sample } from '@shellguard/protocol';
import { SiteModel, loadProfiles, planSite, type FaultKind } from '@shellguard/sim';
import { SITE, type TestSite } from '../support/enrolled-device.ts';

export interface FaultReplay {
  type: 'ahu' | 'generator';
  fault: FaultKind;
  /** Simulated start, epoch ms. */
  start: number;
  faultAfterMs: number;
  runMs: number;
  stepMs: number;
}

export async function replayFault(site: TestSite, r: FaultReplay): Promise<{ asset: string; published: number; acked: number }> {
  const plan = planSite(32);
  const asset = plan.find((a) => a.type === r.type)!;
  const profile = loadProfiles().get(asset.profile)!;
  const model = new SiteModel({ assets: plan, seed: 7, startMs: r.start });
  const edge = site.keys.deviceId;

  const client = await site.connect();
  let acked = 0;
  client.on('message', (_t, payload) => { acked += decodeBatchAck(payload).stored.length; });
  await client.subscribeAsync(controlTopic(edge, 'down', 'ack'));
  await client.publishAsync(sparkplugTopic({ group: SITE, type: 'DBIRTH', edge, device: asset.id }), Buffer.from(encodeDeviceBirth({
    name: asset.name, type: asset.type, area: asset.area, profile: asset.profile,
    points: profile.points.map((p) => ({ name: p.name, unit: p.unit, kind: p.kind, description: p.description })),
  }, { sparkplugSeq: 0, now: r.start })));

  const topic = sparkplugTopic({ group: SITE, type: 'DDATA', edge, device: asset.id });
  let seq = 0;
  let faultInjected = false;
  for (let t = r.start; t <= r.start + r.runMs; t += r.stepMs) {
    if (!faultInjected && t >= r.start + r.faultAfterMs) {
      model.injectFault({ asset: asset.id, kind: r.fault });
      faultInjected = true;
    }
    model.step(t);
    const values = model.values(asset.id);
    const samples: Sample[] = profile.points.map((p) => ({ point: p.name, ts: t, value: values[p.name] ?? null, quality: values[p.name] === undefined ? Quality.bad : Quality.good }));
    seq += 1;
    client.publish(topic, Buffer.from(encodeDeviceData({ epoch: r.fault, seq }, samples, { sparkplugSeq: seq & 0xff, now: t })), { qos: 0 });
    while (seq - acked > 200) await new Promise((res) => setTimeout(res, 5));
  }
  for (let i = 0; i < 400 && acked < seq; i++) await new Promise((res) => setTimeout(res, 25));
  await client.endAsync();
  return { asset: asset.id, published: seq, acked };
}
