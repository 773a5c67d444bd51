import { describe, expect, it } from 'vitest';
import pino from 'pino';
import {
  Quality, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, sparkplugTopic, DataType, type AssetBirth, type Sample,
} from '@shellguard/protocol';
import { Ingest, type IncomingBatch, type IngestOptions, type IngestStorage } from '../../src/ingest/ingest.ts';
import type { IncidentInput } from '../../src/incidents/incident-log.ts';
import type { AppendResult, PointAdmission } from '../../src/telemetry/index.ts';

const DEV = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const NOW = 1_800_000_000_000;
const topic = (edge = DEV, asset = 'AHU-01') => sparkplugTopic({ group: 'site-1', type: 'DDATA', edge, device: asset });
const birthTopic = (edge = DEV, asset = 'AHU-01') => sparkplugTopic({ group: 'site-1', type: 'DBIRTH', edge, device: asset });
const sample = (ts: number, point = 'sat'): Sample => ({ point, ts, value: 1, quality: Quality.good });
const data = (seq: number, opts: { epoch?: string; samples?: Sample[]; sentAt?: number } = {}) => Buffer.from(encodeDeviceData(
  { epoch: opts.epoch ?? 'e1', seq }, opts.samples ?? [sample(NOW - 1000 + seq)], { sparkplugSeq: 0, now: opts.sentAt ?? NOW },
));
const birth = (name = 'x') => Buffer.from(encodeDeviceBirth({ name, type: 'ahu', area: 'a', profile: 'p', points: [] }, { sparkplugSeq: 0, now: NOW }));

/** An in-memory storage at the edge of this unit test; the SQLite store and registry have their own tests. */
class MemoryStorage implements IngestStorage {
  readonly seen = new Map<string, string>();
  readonly samples: IncomingBatch['samples'] = [];
  readonly owners = new Map<string, string>();
  readonly points = new Map<string, Set<string>>();
  readonly clock: { deviceId: string; offsetMs: number }[] = [];
  failNext = false;
  async storeBatches(batches: IncomingBatch[], admit: PointAdmission): Promise<AppendResult> {
    if (this.failNext) { this.failNext = false; throw new Error('SQLITE_FULL: database or disk is full'); }
    const out: AppendResult = { stored: [], duplicates: [], conflicts: [], refused: [], samplesStored: 0 };
    for (const b of batches) {
      const ref = { deviceId: b.deviceId, epoch: b.epoch, seq: b.seq };
      const key = `${b.deviceId}/${b.epoch}/${b.seq}`;
      const fingerprint = JSON.stringify(b.samples.map((s) => s.ts));
      const known = this.seen.get(key);
      if (known !== undefined) { (known === fingerprint ? out.duplicates : out.conflicts).push(ref); continue; }
      const pts = this.points.get(b.asset) ?? new Set();
      const fresh = new Set(b.samples.map((s) => s.point).filter((p) => !pts.has(p)));
      if (fresh.size > 0) {
        const reason = admit(b, fresh.size, pts.size);
        if (reason) { out.refused.push({ ref, reason }); continue; }
      }
      for (const p of fresh) pts.add(p);
      this.points.set(b.asset, pts);
      this.seen.set(key, fingerprint);
      this.samples.push(...b.samples);
      out.stored.push(ref);
      out.samplesStored += b.samples.length;
    }
    return out;
  }
  births: AssetBirth[] = [];
  recordAssetBirth(_d: string, _s: string, b: AssetBirth): void { this.births.push(b); }
  recordDeviceOnline(): void {}
  recordDeviceOffline(): void {}
  recordDeviceSeen(): void {}
  recordClockOffset(deviceId: string, offsetMs: number): void { this.clock.push({ deviceId, offsetMs }); }
  assetOwner(site: string, asset: string): string | undefined { return this.owners.get(`${site}/${asset}`); }
  bindAsset(site: string, asset: string, deviceId: string): boolean {
    const key = `${site}/${asset}`;
    if (!this.owners.has(key)) this.owners.set(key, deviceId);
    return this.owners.get(key) === deviceId;
  }
  assetsOf(deviceId: string): { site: string; asset: string }[] {
    return [...this.owners].filter(([, d]) => d === deviceId).map(([k]) => ({ site: k.split('/')[0]!, asset: k.split('/')[1]! }));
  }
  pointCount(_site: string, asset: string): number { return this.points.get(asset)?.size ?? 0; }
}

function setup(options: Partial<IngestOptions> = {}, storage = new MemoryStorage()) {
  const acks: { deviceId: string; topic: string; ack: ReturnType<typeof decodeBatchAck> }[] = [];
  const incidents: IncidentInput[] = [];
  const ingest = new Ingest({
    storage,
    logger: pino({ level: 'silent' }),
    now: () => NOW,
    incidents: { raise: (i) => { incidents.push(i); return { ...i, id: incidents.length, openedAt: NOW, status: 'open' }; } },
    publishToDevice: (deviceId, t, payload) => acks.push({ deviceId, topic: t, ack: decodeBatchAck(payload) }),
    ...options,
  });
  return { storage, acks, ingest, incidents };
}

describe('Ingest', () => {
  it('stores a batch once and acknowledges every delivery of it, naming its queue epoch', async () => {
    const { storage, acks, ingest } = setup();
    ingest.accept(DEV, topic(), data(7));
    await ingest.flush();
    ingest.accept(DEV, topic(), data(7));
    await ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(acks.map((a) => a.ack)).toEqual([
      { v: 1, epoch: 'e1', stored: [7], rejected: [] }, { v: 1, epoch: 'e1', stored: [7], rejected: [] },
    ]);
    expect(acks[0]!.topic).toBe(`shellguard/v1/device/${DEV}/down/ack`);
    expect(ingest.stats()).toMatchObject({ batchesStored: 1, batchesDuplicate: 1, samplesStored: 1 });
  });

  it('stores seq 1 of a new queue epoch although seq 1 of the old epoch was stored (a reinstalled guardian)', async () => {
    const { storage, acks, ingest } = setup();
    ingest.accept(DEV, topic(), data(1, { epoch: 'old-queue' }));
    await ingest.flush();
    ingest.accept(DEV, topic(), data(1, { epoch: 'new-queue', samples: [sample(NOW - 10)] }));
    await ingest.flush();
    expect(storage.samples).toHaveLength(2);
    expect(acks.map((a) => [a.ack.epoch, a.ack.stored])).toEqual([['old-queue', [1]], ['new-queue', [1]]]);
  });

  it('never acknowledges a reused sequence with other samples as a duplicate: refused for good and surfaced', async () => {
    const { storage, acks, ingest, incidents } = setup();
    ingest.accept(DEV, topic(), data(3, { samples: [sample(NOW - 5000)] }));
    await ingest.flush();
    // The queue was restored from an old copy: seq 3 again, with new readings.
    ingest.accept(DEV, topic(), data(3, { samples: [sample(NOW - 100)] }));
    await ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(acks[1]!.ack).toEqual({ v: 1, epoch: 'e1', stored: [], rejected: [{ seq: 3, reason: 'batch_seq_reused' }] });
    expect(ingest.stats()).toMatchObject({ batchesConflicting: 1, rejected: { batch_seq_reused: 1 } });
    expect(incidents.map((i) => i.reason)).toEqual(['batch_seq_reused']);
  });

  it('passes each newly stored batch on once, even when its redelivery is in the same flush', async () => {
    const seen: number[] = [];
    const { ingest } = setup({ onStored: (batches) => seen.push(...batches.map((b) => b.seq)) });
    ingest.accept(DEV, topic(), data(5));
    ingest.accept(DEV, topic(), data(5));
    ingest.accept(DEV, topic(), data(6));
    await ingest.flush();
    ingest.accept(DEV, topic(), data(6));
    await ingest.flush();
    expect(seen).toEqual([5, 6]);
  });

  it('does not acknowledge when the store fails, so the guardian redelivers', async () => {
    const { storage, acks, ingest } = setup();
    storage.failNext = true;
    ingest.accept(DEV, topic(), data(1));
    await ingest.flush();
    expect(acks).toEqual([]);
    expect(ingest.stats().storeFailures).toBe(1);
    ingest.accept(DEV, topic(), data(1));
    await ingest.flush();
    expect(acks.map((a) => a.ack.stored)).toEqual([[1]]);
  });

  it('refuses a batch with a bad metric for good, naming its sequence and epoch', async () => {
    const { acks, ingest } = setup();
    // A DDATA whose sample metric claims Boolean but carries a double (small times, so the
    // datatype byte is the only 0x20 0x0a in the payload).
    const tampered = Buffer.from(data(9, { samples: [{ point: 'x', ts: 5, value: 1, quality: Quality.good }], sentAt: 1 }));
    const at = tampered.indexOf(Buffer.from([0x20, DataType.Double]));
    tampered[at + 1] = DataType.Boolean;
    ingest.accept(DEV, topic(), tampered);
    await ingest.flush();
    expect(acks[0]!.ack).toEqual({ v: 1, epoch: 'e1', stored: [], rejected: [{ seq: 9, reason: 'metric_value' }] });
    expect(ingest.stats().rejected).toEqual({ metric_value: 1 });
  });

  it('refuses telemetry under a site the device is not claimed into, for good', async () => {
    const storage = Object.assign(new MemoryStorage(), { claimedSite: () => 'site-2' });
    const { acks, ingest } = setup({}, storage);
    ingest.accept(DEV, topic(), data(8)); // topic() publishes under site-1
    ingest.accept(DEV, birthTopic(), birth());
    await ingest.flush();
    expect(storage.samples).toEqual([]);
    expect(storage.births).toEqual([]);
    expect(acks.map((a) => a.ack)).toEqual([{ v: 1, epoch: 'e1', stored: [], rejected: [{ seq: 8, reason: 'site_mismatch' }] }]);
    expect(ingest.stats().rejected).toEqual({ site_mismatch: 2 });
  });

  it('counts garbage and keeps going', async () => {
    const { storage, ingest } = setup();
    ingest.accept(DEV, topic(), Buffer.from([0xff, 0xff, 0xff]));
    ingest.accept(DEV, topic(OTHER), data(3));
    ingest.accept(DEV, topic(), data(4));
    await ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(ingest.stats().rejected).toEqual({ payload_undecodable: 1, edge_mismatch: 1 });
  });
});

describe('Ingest: an asset belongs to one guardian', () => {
  it('binds an asset to the first guardian that reports it and refuses data and births for it from any other', async () => {
    const { storage, acks, ingest, incidents } = setup();
    ingest.accept(DEV, birthTopic(DEV, 'CRAH-02'), birth('CRAH 2'));
    ingest.accept(DEV, topic(DEV, 'CRAH-02'), data(1));
    await ingest.flush();
    ingest.accept(OTHER, topic(OTHER, 'CRAH-02'), data(1, { samples: [sample(NOW - 3), sample(NOW - 3, 'new_point')] }));
    ingest.accept(OTHER, birthTopic(OTHER, 'CRAH-02'), birth('renamed'));
    await ingest.flush();
    expect(storage.owners.get('site-1/CRAH-02')).toBe(DEV);
    expect(storage.births.map((b) => b.name)).toEqual(['CRAH 2']);
    expect(storage.samples).toHaveLength(1);
    expect(storage.points.get('CRAH-02')).toEqual(new Set(['sat']));
    expect(acks.filter((a) => a.deviceId === OTHER).map((a) => a.ack.rejected)).toEqual([[{ seq: 1, reason: 'asset_bound_elsewhere' }]]);
    expect(ingest.stats().rejected).toEqual({ asset_bound_elsewhere: 2 });
    // One incident for the pair (guardian, asset), not one per message.
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ kind: 'telemetry_refused', severity: 'high', deviceId: OTHER, reason: 'asset_bound_elsewhere' });
  });

  it('refuses assets beyond the guardian\'s asset quota', async () => {
    const { storage, acks, ingest } = setup({ quotas: { maxAssetsPerDevice: 2, maxPointsPerAsset: 100, maxPointsPerDevice: 100 } });
    for (const [i, asset] of ['A-1', 'A-2', 'A-3'].entries()) ingest.accept(DEV, topic(DEV, asset), data(i + 1));
    await ingest.flush();
    expect([...storage.owners.keys()]).toEqual(['site-1/A-1', 'site-1/A-2']);
    expect(acks[0]!.ack).toMatchObject({ stored: [1, 2], rejected: [{ seq: 3, reason: 'asset_quota_exceeded' }] });
  });

  it('refuses a whole batch that would create points beyond the per-asset or per-guardian quota', async () => {
    const { storage, acks, ingest } = setup({ quotas: { maxAssetsPerDevice: 10, maxPointsPerAsset: 3, maxPointsPerDevice: 4 } });
    const points = (names: string[]) => names.map((n) => sample(NOW - 1, n));
    ingest.accept(DEV, topic(DEV, 'A-1'), data(1, { samples: points(['p1', 'p2', 'p3']) }));
    ingest.accept(DEV, topic(DEV, 'A-1'), data(2, { samples: points(['p1', 'p4']) }));       // asset would have 4 > 3
    ingest.accept(DEV, topic(DEV, 'A-2'), data(3, { samples: points(['q1', 'q2']) }));       // guardian would have 5 > 4
    ingest.accept(DEV, topic(DEV, 'A-2'), data(4, { samples: points(['q1']) }));             // 4: admitted
    await ingest.flush();
    expect(storage.samples.map((s) => s.point)).toEqual(['p1', 'p2', 'p3', 'q1']);
    expect(acks[0]!.ack).toMatchObject({
      stored: [1, 4], rejected: [{ seq: 2, reason: 'point_quota_exceeded' }, { seq: 3, reason: 'point_quota_exceeded' }],
    });
  });
});

describe('Ingest: sample times near the server clock', () => {
  const limits = { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, clockWarnMs: 30_000 };

  it('refuses for good a batch with a sample stamped far in the future, and counts the sample', async () => {
    const { storage, acks, ingest } = setup({ limits });
    ingest.accept(DEV, topic(), data(1, { samples: [sample(NOW - 10), sample(9e15)] }));
    await ingest.flush();
    expect(storage.samples).toEqual([]);
    expect(acks[0]!.ack.rejected).toEqual([{ seq: 1, reason: 'sample_in_future' }]);
    expect(ingest.stats().samplesRefused).toEqual({ sample_in_future: 1, sample_too_old: 0 });
  });

  it('refuses samples older than the window, and accepts the edges of the window', async () => {
    const { storage, acks, ingest } = setup({ limits });
    ingest.accept(DEV, topic(), data(1, { samples: [sample(NOW - limits.maxAgeMs - 1)] }));
    ingest.accept(DEV, topic(), data(2, { samples: [sample(NOW - limits.maxAgeMs), sample(NOW + limits.maxFutureSkewMs)] }));
    await ingest.flush();
    expect(storage.samples).toHaveLength(2);
    expect(acks[0]!.ack).toMatchObject({ stored: [2], rejected: [{ seq: 1, reason: 'sample_too_old' }] });
    expect(ingest.stats().samplesRefused).toEqual({ sample_in_future: 0, sample_too_old: 1 });
  });

  it('flags a guardian whose clock is off, once, and clears the flag when it is right again', async () => {
    const { storage, ingest, incidents } = setup({ limits });
    ingest.accept(DEV, topic(), data(1, { sentAt: NOW + 45_000 }));
    ingest.accept(DEV, topic(), data(2, { sentAt: NOW + 45_200 }));
    expect(ingest.stats().clockSuspects).toEqual({ [DEV]: 45_200 });
    expect(incidents.map((i) => i.reason)).toEqual(['clock_skew']);
    ingest.accept(DEV, topic(), data(3, { sentAt: NOW + 100 }));
    expect(ingest.stats().clockSuspects).toEqual({});
    expect(storage.clock.map((c) => c.offsetMs)).toEqual([45_000, 100]);
    await ingest.flush();
    // Within the skew the batches themselves are fine: the clock flag is a warning.
    expect(storage.samples).toHaveLength(3);
  });
});
