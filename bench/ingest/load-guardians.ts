/**
 * Simulated guardians for the ingest benchmark: N MQTT clients over mutual TLS, each publishing
 * Sparkplug DDATA batches with durable sequence numbers and keeping `window` batches unacknowledged,
 * exactly as a real guardian's uplink does — but with batches pre-encoded, so the benchmark
 * measures the server, not the load generator.
 *
 * Input: a JSON file path in argv[2]. Output: one JSON line on stdout when done.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import {
  Quality, controlTopic, decodeBatchAck, encodeDeviceData, sparkplugTopic, type Sample,
} from '@shellguard/protocol';

interface LoadSpec {
  url: string;
  caFile: string;
  site: string;
  devices: { deviceId: string; keyFile: string; certFile: string }[];
  durationMs: number;
  /** Samples per batch (points x timestamps). */
  batchSamples: number;
  pointsPerAsset: number;
  window: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
const ca = readFileSync(spec.caFile);
/** One queue epoch per load run: like a guardian's queue created for this run. */
const EPOCH = `bench-${process.pid}-${Date.now()}`;

function makeBatch(seq: number, startTs: number): Uint8Array {
  const samples: Sample[] = [];
  const rows = Math.ceil(spec.batchSamples / spec.pointsPerAsset);
  for (let r = 0; r < rows && samples.length < spec.batchSamples; r++) {
    for (let p = 0; p < spec.pointsPerAsset && samples.length < spec.batchSamples; p++) {
      samples.push({ point: `p${p}`, ts: startTs + r, value: 20 + Math.sin(seq + r + p) * 5, quality: Quality.good });
    }
  }
  return encodeDeviceData({ epoch: EPOCH, seq }, samples, { sparkplugSeq: seq & 0xff, now: startTs });
}

interface Result { ackedSamples: number; ackedBatches: number; published: number; elapsedMs: number }

async function runDevice(d: LoadSpec['devices'][number], deadline: number): Promise<Result> {
  const client = await mqtt.connectAsync(spec.url, {
    protocolVersion: 4, clientId: d.deviceId, clean: true, reconnectPeriod: 0,
    ca, key: readFileSync(d.keyFile), cert: readFileSync(d.certFile), rejectUnauthorized: true,
  });
  const ackTopic = controlTopic(d.deviceId, 'down', 'ack');
  await client.subscribeAsync(ackTopic, { qos: 0 });
  // Each guardian reports its own asset: an asset is bound to the one guardian that reports it.
  const topic = sparkplugTopic({ group: spec.site, type: 'DDATA', edge: d.deviceId, device: `BENCH-${d.deviceId.slice(0, 12)}` });
  // Sample times start a day back and advance 1 ms per row: distinct, and inside the server's
  // accepted window (ingest refuses times in the future) for any run shorter than a day.
  const base = Date.now() - 86_400_000;
  let nextSeq = 1;
  const inFlight = new Set<number>();
  const result: Result = { ackedSamples: 0, ackedBatches: 0, published: 0, elapsedMs: 0 };
  const started = Date.now();
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  const pump = () => {
    if (Date.now() >= deadline) { if (inFlight.size === 0) finish(); return; }
    while (inFlight.size < spec.window) {
      const seq = nextSeq++;
      inFlight.add(seq);
      result.published += 1;
      client.publish(topic, Buffer.from(makeBatch(seq, base + seq * spec.batchSamples)), { qos: 0 });
    }
  };
  client.on('message', (t, payload) => {
    if (t !== ackTopic) return;
    const ack = decodeBatchAck(payload);
    for (const seq of ack.stored) {
      if (inFlight.delete(seq)) { result.ackedBatches += 1; result.ackedSamples += spec.batchSamples; }
    }
    pump();
  });
  pump();
  await done;
  result.elapsedMs = Date.now() - started;
  await client.endAsync();
  return result;
}

const deadline = Date.now() + spec.durationMs;
const results = await Promise.all(spec.devices.map((d) => runDevice(d, deadline)));
const total = results.reduce((a, r) => ({
  ackedSamples: a.ackedSamples + r.ackedSamples, ackedBatches: a.ackedBatches + r.ackedBatches,
  published: a.published + r.published, elapsedMs: Math.max(a.elapsedMs, r.elapsedMs),
}), { ackedSamples: 0, ackedBatches: 0, published: 0, elapsedMs: 0 });
process.stdout.write(`${JSON.stringify(total)}\n`);
