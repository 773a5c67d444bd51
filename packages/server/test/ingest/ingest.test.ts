import { describe, expect, it } from 'vitest';
import pino from 'pino';
import {
  Quality, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, DataType, type AssetBirth,
} from '@shellguard/protocol';
import { Ingest, type IncomingBatch, type IngestStorage } from '../../src/ingest/ingest.ts';
import type { AppendResult } from '../../src/telemetry/index.ts';

const DEV = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const topic = (edge = DEV) => sparkplugTopic({ group: 'site-1', type: 'DDATA', edge, device: 'AHU-01' });
const data = (seq: number) => Buffer.from(encodeDeviceData(seq, [{ point: 'sat', ts: 1000 + seq, value: seq, quality: Quality.good }], { sparkplugSeq: 0, now: 1 }));

/** An in-memory storage at the edge of this unit test; the SQLite store has its own contract tests. */
class MemoryStorage implements IngestStorage {
  readonly seen = new Set<string>();
  readonly samples: IncomingBatch['samples'] = [];
  failNext = false;
  storeBatches(batches: IncomingBatch[]): AppendResult {
    if (this.failNext) { this.failNext = false; throw new Error('SQLITE_FULL: database or disk is full'); }
    const out: AppendResult = { stored: [], duplicates: [], samplesStored: 0 };
    for (const b of batches) {
      const key = `${b.deviceId}/${b.seq}`;
      if (this.seen.has(key)) { out.duplicates.push({ deviceId: b.deviceId, seq: b.seq }); continue; }
      this.seen.add(key);
      this.samples.push(...b.samples);
      out.stored.push({ deviceId: b.deviceId, seq: b.seq });
      out.samplesStored += b.samples.length;
    }
    return out;
  }
  births: AssetBirth[] = [];
  recordAssetBirth(_d: string, _s: string, birth: AssetBirth): void { this.births.push(birth); }
  recordDeviceOnline(): void {}
  recordDeviceOffline(): void {}
  recordDeviceSeen(): void {}
}

function setup() {
  const storage = new MemoryStorage();
  const acks: { deviceId: string; topic: string; ack: ReturnType<typeof decodeBatchAck> }[] = [];
  const ingest = new Ingest({
    storage,
    logger: pino({ level: 'silent' }),
    publishToDevice: (deviceId, t, payload) => acks.push({ deviceId, topic: t, ack: decodeBatchAck(payload) }),
  });
  return { storage, acks, ingest };
}

describe('Ingest', () => {
  it('stores a batch once and acknowledges every delivery of it', () => {
    const { storage, acks, ingest } = setup();
    ingest.accept(DEV, topic(), data(7));
    ingest.flush();
    ingest.accept(DEV, topic(), data(7));
    ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(acks.map((a) => a.ack.stored)).toEqual([[7], [7]]);
    expect(acks[0]!.topic).toBe(`shellguard/v1/device/${DEV}/down/ack`);
    expect(ingest.stats()).toMatchObject({ batchesStored: 1, batchesDuplicate: 1, samplesStored: 1 });
  });

  it('passes each newly stored batch on once, even when its redelivery is in the same flush', () => {
    const storage = new MemoryStorage();
    const seen: number[] = [];
    const ingest = new Ingest({
      storage, logger: pino({ level: 'silent' }), publishToDevice: () => {},
      onStored: (batches) => seen.push(...batches.map((b) => b.seq)),
    });
    ingest.accept(DEV, topic(), data(5));
    ingest.accept(DEV, topic(), data(5));
    ingest.accept(DEV, topic(), data(6));
    ingest.flush();
    ingest.accept(DEV, topic(), data(6));
    ingest.flush();
    expect(seen).toEqual([5, 6]);
  });

  it('does not acknowledge when the store fails, so the guardian redelivers', () => {
    const { storage, acks, ingest } = setup();
    storage.failNext = true;
    ingest.accept(DEV, topic(), data(1));
    ingest.flush();
    expect(acks).toEqual([]);
    expect(ingest.stats().storeFailures).toBe(1);
    ingest.accept(DEV, topic(), data(1));
    ingest.flush();
    expect(acks.map((a) => a.ack.stored)).toEqual([[1]]);
  });

  it('refuses a batch with a bad metric for good, naming its sequence', () => {
    const { acks, ingest } = setup();
    // A DDATA whose second metric claims Boolean but carries a string.
    const bad = Buffer.from(encodeDeviceData(9, [{ point: 'x', ts: 5, value: 1, quality: Quality.good }], { sparkplugSeq: 0, now: 1 }));
    const tampered = Buffer.from(bad);
    const at = tampered.indexOf(Buffer.from([0x20, DataType.Double]));
    tampered[at + 1] = DataType.Boolean;
    ingest.accept(DEV, topic(), tampered);
    ingest.flush();
    expect(acks[0]!.ack).toEqual({ v: 1, stored: [], rejected: [{ seq: 9, reason: 'metric_value' }] });
    expect(ingest.stats().rejected).toEqual({ metric_value: 1 });
  });

  it('refuses telemetry under a site the device is not claimed into, for good', () => {
    const storage = Object.assign(new MemoryStorage(), { claimedSite: () => 'site-2' });
    const acks: ReturnType<typeof decodeBatchAck>[] = [];
    const ingest = new Ingest({ storage, logger: pino({ level: 'silent' }), publishToDevice: (_d, _t, p) => acks.push(decodeBatchAck(p)) });
    ingest.accept(DEV, topic(), data(8)); // topic() publishes under site-1
    ingest.accept(DEV, sparkplugTopic({ group: 'site-1', type: 'DBIRTH', edge: DEV, device: 'AHU-01' }),
      Buffer.from(encodeDeviceBirth({ name: 'x', type: 'ahu', area: 'a', profile: 'p', points: [] }, { sparkplugSeq: 0, now: 1 })));
    ingest.flush();
    expect(storage.samples).toEqual([]);
    expect(storage.births).toEqual([]);
    expect(acks).toEqual([{ v: 1, stored: [], rejected: [{ seq: 8, reason: 'site_mismatch' }] }]);
    expect(ingest.stats().rejected).toEqual({ site_mismatch: 2 });
  });

  it('counts garbage and keeps going', () => {
    const { storage, ingest } = setup();
    ingest.accept(DEV, topic(), Buffer.from([0xff, 0xff, 0xff]));
    ingest.accept(DEV, topic(OTHER), data(3));
    ingest.accept(DEV, topic(), data(4));
    ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(ingest.stats().rejected).toEqual({ payload_undecodable: 1, edge_mismatch: 1 });
  });
});
