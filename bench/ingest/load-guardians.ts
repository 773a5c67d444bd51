/**
 * Simulated guardians for the ingest benchmark: N MQTT clients over mutual TLS, each reporting
 * its own assets as a real guardian does. Each asset has a real equipment profile (so the
 * server binds its alarm rules) and is announced with a DBIRTH; then every batch is one poll of
 * one asset — all its points at one time, register-resolution values, a few ms of poll jitter —
 * with a durable sequence number and at most `window` batches unacknowledged, like the uplink.
 *
 * Input: a JSON file path in argv[2]. Output on stdout, one JSON object per line:
 * `{"minute": k, "samples": n}` as each minute of the run ends, then the totals.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import {
  Quality, controlTopic, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, encodeNodeBirth, sparkplugTopic,
  type EquipmentProfile, type Sample,
} from '@shellguard/protocol';
import { loadProfiles } from '@shellguard/sim';

export interface LoadSpec {
  url: string;
  caFile: string;
  site: string;
  devices: { deviceId: string; keyFile: string; certFile: string }[];
  durationMs: number;
  /** Assets per guardian. */
  assets: number;
  /** Profiles the assets cycle through. */
  profiles: string[];
  window: number;
  /** Time between two polls of one asset, in sample time (ms). */
  pollMs: number;
  /** Polls of one asset per batch (1: a guardian's shape; more: a backlog drained in big batches). */
  pollsPerBatch: number;
  /** How far back sample times start (default two hours). */
  startAgoMs?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
const ca = readFileSync(spec.caFile);
/** One queue epoch per load run: like a guardian's queue created for this run. */
const EPOCH = `bench-${process.pid}-${Date.now()}`;
const catalog = loadProfiles();
const profiles: EquipmentProfile[] = spec.profiles.map((id) => {
  const p = catalog.get(id);
  if (!p) throw new Error(`no profile ${id}`);
  return p;
});

interface SimAsset {
  id: string;
  profile: EquipmentProfile;
  /** Sample time of the next poll. */
  ts: number;
  /** A slow level per point, so values move the way plant values do. */
  level: number[];
}

/** Register-resolution values: analog to 0.1 of its unit around a slowly moving level, binary mostly steady. */
function poll(a: SimAsset, rnd: () => number): Sample[] {
  const samples: Sample[] = new Array(a.profile.points.length);
  a.profile.points.forEach((p, i) => {
    let value: number | boolean;
    if (p.kind === 'binary') value = rnd() < 0.001 ? rnd() < 0.5 : i % 2 === 0;
    else if (p.kind === 'enum') value = 1;
    else {
      a.level[i]! += (rnd() - 0.5) * 0.05;
      value = Math.round((a.level[i]! + (rnd() - 0.5) * 0.2) * 10) / 10;
    }
    samples[i] = { point: p.name, ts: a.ts + Math.floor(rnd() * 4), value, quality: Quality.good };
  });
  a.ts += spec.pollMs;
  return samples;
}

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Result { ackedSamples: number; ackedBatches: number; published: number; elapsedMs: number }

const started = Date.now();
const perMinute: number[] = [];
const countAcked = (n: number) => {
  const m = Math.floor((Date.now() - started) / 60_000);
  perMinute[m] = (perMinute[m] ?? 0) + n;
};

async function runDevice(d: LoadSpec['devices'][number], index: number, deadline: number): Promise<Result> {
  const rnd = mulberry32(index + 1);
  // Sample times start two hours back (by default), so they stay in the past (ingest refuses the
  // future) however fast the run goes.
  const start = Date.now() - (spec.startAgoMs ?? 2 * 3_600_000);
  const assets: SimAsset[] = Array.from({ length: spec.assets }, (_, i) => {
    const profile = profiles[(index * spec.assets + i) % profiles.length]!;
    return { id: `G${index}-A${i}`, profile, ts: start + Math.floor(rnd() * spec.pollMs), level: profile.points.map(() => 10 + rnd() * 40) };
  });
  const client: MqttClient = await mqtt.connectAsync(spec.url, {
    protocolVersion: 4, clientId: d.deviceId, clean: true, reconnectPeriod: 0,
    ca, key: readFileSync(d.keyFile), cert: readFileSync(d.certFile), rejectUnauthorized: true,
  });
  const ackTopic = controlTopic(d.deviceId, 'down', 'ack');
  await client.subscribeAsync(ackTopic, { qos: 0 });
  const now = Date.now();
  await client.publishAsync(sparkplugTopic({ group: spec.site, type: 'NBIRTH', edge: d.deviceId }),
    Buffer.from(encodeNodeBirth(0, '0.1.0', { sparkplugSeq: 0, now, queueEpoch: EPOCH })), { qos: 0 });
  for (const a of assets) {
    await client.publishAsync(sparkplugTopic({ group: spec.site, type: 'DBIRTH', edge: d.deviceId, device: a.id }), Buffer.from(encodeDeviceBirth({
      name: a.id, type: a.profile.type, area: `hall-${index}`, profile: a.profile.id,
      points: a.profile.points.map((p) => ({ name: p.name, unit: p.unit, kind: p.kind, description: p.description })),
    }, { sparkplugSeq: 0, now })), { qos: 0 });
  }
  const topics = assets.map((a) => sparkplugTopic({ group: spec.site, type: 'DDATA', edge: d.deviceId, device: a.id }));
  let nextSeq = 1;
  let nextAsset = 0;
  const inFlight = new Map<number, number>();
  const result: Result = { ackedSamples: 0, ackedBatches: 0, published: 0, elapsedMs: 0 };
  const t0 = Date.now();
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  const pump = () => {
    if (Date.now() >= deadline) { if (inFlight.size === 0) finish(); return; }
    while (inFlight.size < spec.window) {
      const seq = nextSeq++;
      const i = nextAsset;
      nextAsset = (nextAsset + 1) % assets.length;
      const samples = poll(assets[i]!, rnd);
      for (let k = 1; k < spec.pollsPerBatch; k++) samples.push(...poll(assets[i]!, rnd));
      inFlight.set(seq, samples.length);
      result.published += 1;
      client.publish(topics[i]!, Buffer.from(encodeDeviceData({ epoch: EPOCH, seq }, samples, { sparkplugSeq: seq & 0xff, now: Date.now() })), { qos: 0 });
    }
  };
  client.on('message', (t, payload) => {
    if (t !== ackTopic) return;
    const ack = decodeBatchAck(payload);
    let n = 0;
    for (const seq of ack.stored) {
      const samples = inFlight.get(seq);
      if (samples === undefined) continue;
      inFlight.delete(seq);
      result.ackedBatches += 1;
      result.ackedSamples += samples;
      n += samples;
    }
    if (ack.rejected.length > 0) process.stderr.write(`refused: ${JSON.stringify(ack.rejected.slice(0, 3))}\n`);
    countAcked(n);
    pump();
  });
  pump();
  await done;
  result.elapsedMs = Date.now() - t0;
  await client.endAsync();
  return result;
}

const deadline = Date.now() + spec.durationMs;
let reported = 0;
const minuteTimer = setInterval(() => {
  const m = Math.floor((Date.now() - started) / 60_000);
  while (reported < m) {
    process.stdout.write(`${JSON.stringify({ minute: reported + 1, samples: perMinute[reported] ?? 0 })}\n`);
    reported++;
  }
}, 1_000);
const results = await Promise.all(spec.devices.map((d, i) => runDevice(d, i, deadline)));
clearInterval(minuteTimer);
const total = results.reduce((a, r) => ({
  ackedSamples: a.ackedSamples + r.ackedSamples, ackedBatches: a.ackedBatches + r.ackedBatches,
  published: a.published + r.published, elapsedMs: Math.max(a.elapsedMs, r.elapsedMs),
}), { ackedSamples: 0, ackedBatches: 0, published: 0, elapsedMs: 0 });
process.stdout.write(`${JSON.stringify({ total, perMinute })}\n`);
