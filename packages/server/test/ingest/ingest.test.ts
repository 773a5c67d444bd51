import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import {
  Quality, decodeBatchAck, encodeDeviceBirth, encodeDeviceData, encodeNodeBirth, sparkplugTopic, DataType, type AssetBirth, type Sample,
} from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { Ingest, type IncomingBatch, type IngestOptions } from '../../src/ingest/ingest.ts';
import type { AssetHolder, AssetRef, DeviceDirectory } from '../../src/ingest/device-directory.ts';
import { eachBatch, eachSample } from '../../src/ingest/ingest-listeners.ts';
import type { Incident, IncidentInput } from '../../src/incidents/incident-log.ts';
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

/** Telemetry in memory, at the edge of this unit test; the SQLite store has its own tests. */
class MemoryTelemetry {
  readonly seen = new Map<string, string>();
  readonly samples: IncomingBatch['samples'] = [];
  readonly points = new Map<string, Set<string>>();
  failNext = false;
  async appendBatches(batches: readonly IncomingBatch[], admit?: PointAdmission): Promise<AppendResult> {
    await Promise.resolve();
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
      if (fresh.size > 0 && admit) {
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
  pointCount(_site: string, asset: string): number { return this.points.get(asset)?.size ?? 0; }
}

/**
 * A device directory in memory; shared by two Ingests it stands for the database two replicas
 * share. Every answer is asynchronous, as the database's are.
 */
class MemoryDirectory implements DeviceDirectory {
  readonly owners = new Map<string, string>();
  readonly claims = new Map<string, string>();
  readonly births: AssetBirth[] = [];
  readonly clock: { deviceId: string; offsetMs: number }[] = [];
  readonly events: string[] = [];
  readonly calls = { claimedSite: 0, assetsOf: 0, holdersOf: 0, bindAsset: 0 };
  failNext = false;
  /** When set, bindAsset waits for it (a slow database). */
  bindGate: Promise<void> | undefined;
  private async tick(): Promise<void> {
    await Promise.resolve();
    if (this.failNext) { this.failNext = false; throw new Error('connection terminated'); }
  }
  async claimedSite(deviceId: string): Promise<string | undefined> {
    this.calls.claimedSite++;
    await this.tick();
    return this.claims.get(deviceId);
  }
  async assetsOf(deviceId: string): Promise<AssetRef[]> {
    this.calls.assetsOf++;
    await this.tick();
    return [...this.owners].filter(([, d]) => d === deviceId).map(([k]) => ({ site: k.split('/')[0]!, asset: k.split('/')[1]! }));
  }
  async holdersOf(assets: readonly AssetRef[]): Promise<AssetHolder[]> {
    this.calls.holdersOf++;
    await this.tick();
    return assets.flatMap((a) => {
      const deviceId = this.owners.get(`${a.site}/${a.asset}`);
      return deviceId === undefined ? [] : [{ ...a, deviceId }];
    });
  }
  async bindAsset(site: string, asset: string, deviceId: string): Promise<{ owner: string; bound: boolean }> {
    this.calls.bindAsset++;
    await this.bindGate;
    await this.tick();
    const key = `${site}/${asset}`;
    const bound = !this.owners.has(key);
    if (bound) this.owners.set(key, deviceId);
    return { owner: this.owners.get(key)!, bound };
  }
  async recordAssetBirth(deviceId: string, site: string, birth: AssetBirth): Promise<boolean> {
    await this.tick();
    const owner = this.owners.get(`${site}/${birth.asset}`);
    if (owner !== undefined && owner !== deviceId) return false;
    this.owners.set(`${site}/${birth.asset}`, deviceId);
    this.births.push(birth);
    return true;
  }
  async recordDeviceOnline(deviceId: string): Promise<void> { await this.tick(); this.events.push(`online ${deviceId.slice(0, 1)}`); }
  async recordDeviceOffline(deviceId: string): Promise<void> { await this.tick(); this.events.push(`offline ${deviceId.slice(0, 1)}`); }
  recordDeviceSeen(): void {}
  async recordClockOffset(deviceId: string, offsetMs: number): Promise<void> { this.clock.push({ deviceId, offsetMs }); return Promise.resolve(); }
}

/** Lets the directory's and the store's promises settle (no time passes on the test clock). */
const settle = async () => { for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve)); };

function setup(options: Partial<IngestOptions> = {}, devices = new MemoryDirectory(), telemetry = new MemoryTelemetry()) {
  const acks: { deviceId: string; topic: string; ack: ReturnType<typeof decodeBatchAck> }[] = [];
  const incidents: IncidentInput[] = [];
  // Fake time: the flush timer runs only when a test moves the clock; the others flush by hand.
  const clock = new ManualClock(NOW);
  const ingest = new Ingest({
    telemetry,
    devices,
    logger: pino({ level: 'silent' }),
    clock,
    incidents: { raise: (i) => { incidents.push(i); return Promise.resolve({ ...i, id: incidents.length, openedAt: NOW, status: 'open' } as Incident); } },
    publishToDevice: (deviceId, t, payload) => acks.push({ deviceId, topic: t, ack: decodeBatchAck(payload) }),
    ...options,
  });
  // `storage` keeps the old tests' reading: samples and points from the store, owners and births from the directory.
  const storage = Object.assign(telemetry, { owners: devices.owners, births: devices.births, clock: devices.clock });
  return { storage, devices, telemetry, acks, ingest, incidents, clock };
}

describe('Ingest', () => {
  it('stores what arrived within flushIntervalMs of the first sample in one flush, once that time has passed', async () => {
    const { storage, acks, ingest, clock } = setup({ flushIntervalMs: 100 });
    ingest.accept(DEV, topic(), data(1));
    await settle();
    await clock.advanceAsync(60);
    ingest.accept(DEV, topic(), data(2));
    await settle();
    await clock.advanceAsync(39);
    expect(storage.samples).toHaveLength(0);
    expect(acks).toHaveLength(0);

    await clock.advanceAsync(1);
    expect(storage.samples).toHaveLength(2);
    expect(acks.map((a) => a.ack)).toEqual([{ v: 1, epoch: 'e1', stored: [1, 2], rejected: [] }]);
    // The next sample starts a new wait.
    ingest.accept(DEV, topic(), data(3));
    expect(clock.dueTimes()).toEqual([NOW + 200]);
  });

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
    const { ingest } = setup({ listeners: [(batches) => { seen.push(...batches.map((b) => b.seq)); }] });
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
    const devices = new MemoryDirectory();
    devices.claims.set(DEV, 'site-2');
    const { storage, acks, ingest } = setup({}, devices);
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
    await settle();
    expect(ingest.stats().clockSuspects).toEqual({ [DEV]: 45_200 });
    expect(incidents.map((i) => i.reason)).toEqual(['clock_skew']);
    ingest.accept(DEV, topic(), data(3, { sentAt: NOW + 100 }));
    await settle();
    expect(ingest.stats().clockSuspects).toEqual({});
    expect(storage.clock.map((c) => c.offsetMs)).toEqual([45_000, 100]);
    await ingest.flush();
    // Within the skew the batches themselves are fine: the clock flag is a warning.
    expect(storage.samples).toHaveLength(3);
  });
});

describe('Ingest: the device directory', () => {
  it('asks the directory about a device once, then admits its data without a query', async () => {
    const { devices, storage, ingest } = setup();
    devices.claims.set(DEV, 'site-1');
    for (let seq = 1; seq <= 50; seq++) ingest.accept(DEV, topic(), data(seq));
    await ingest.flush();
    expect(storage.samples).toHaveLength(50);
    // One claim lookup, one read of its assets, one bind; and one check of holders per flush.
    expect(devices.calls).toEqual({ claimedSite: 1, assetsOf: 1, bindAsset: 1, holdersOf: 1 });
  });

  it('stores a device\'s batches in the order they arrived while the first waits for the directory', async () => {
    let open!: () => void;
    const devices = new MemoryDirectory();
    devices.bindGate = new Promise((resolve) => { open = resolve; });
    const order: number[] = [];
    const { ingest, acks } = setup({ listeners: [(batches) => { order.push(...batches.map((b) => b.seq)); }] }, devices);
    ingest.accept(DEV, topic(DEV, 'A-1'), data(1));        // waits for the bind
    ingest.accept(DEV, topic(DEV, 'A-1'), data(2));
    ingest.accept(DEV, topic(DEV, 'A-2'), data(3));
    await settle();
    expect(order).toEqual([]);
    open();
    await ingest.flush();
    expect(order).toEqual([1, 2, 3]);
    expect(acks.map((a) => a.ack.stored)).toEqual([[1, 2, 3]]);
  });

  it('never lets a remembered binding write an asset moved to another guardian (another replica moved it)', async () => {
    const { devices, storage, acks, ingest, incidents } = setup();
    devices.claims.set(DEV, 'site-1');
    ingest.accept(DEV, topic(DEV, 'CRAH-02'), data(1));
    await ingest.flush();
    // An operator moves the asset, on some other replica: only the database knows.
    devices.owners.set('site-1/CRAH-02', OTHER);
    ingest.accept(DEV, topic(DEV, 'CRAH-02'), data(2));
    await ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(acks[1]!.ack).toEqual({ v: 1, epoch: 'e1', stored: [], rejected: [{ seq: 2, reason: 'asset_bound_elsewhere' }] });
    expect(incidents).toContainEqual(expect.objectContaining({ reason: 'asset_bound_elsewhere', deviceId: DEV, severity: 'high' }));
    // The cache entry is gone: the next batch asks the directory, which still says no.
    const binds = devices.calls.bindAsset;
    ingest.accept(DEV, topic(DEV, 'CRAH-02'), data(3));
    await ingest.flush();
    expect(devices.calls.bindAsset).toBe(binds + 1);
    expect(acks[2]!.ack.rejected).toEqual([{ seq: 3, reason: 'asset_bound_elsewhere' }]);
    expect(storage.samples).toHaveLength(1);
  });

  it('gives an asset two replicas see first at once to one guardian; the other is refused', async () => {
    const shared = new MemoryDirectory();
    const telemetry = new MemoryTelemetry();
    const a = setup({}, shared, telemetry);
    const b = setup({}, shared, telemetry);
    a.ingest.accept(DEV, topic(DEV, 'UPS-1'), data(1));
    b.ingest.accept(OTHER, topic(OTHER, 'UPS-1'), data(1));
    await Promise.all([a.ingest.flush(), b.ingest.flush()]);
    expect(telemetry.samples).toHaveLength(1);
    expect(shared.owners.get('site-1/UPS-1')).toBe(DEV);
    expect(a.acks[0]!.ack.stored).toEqual([1]);
    expect(b.acks[0]!.ack.rejected).toEqual([{ seq: 1, reason: 'asset_bound_elsewhere' }]);
  });

  it('acknowledges nothing when the directory cannot answer, and stores the redelivery', async () => {
    const { devices, storage, acks, ingest } = setup();
    devices.failNext = true;
    ingest.accept(DEV, topic(), data(1));
    await ingest.flush();
    expect(acks).toEqual([]);
    expect(ingest.stats()).toMatchObject({ directoryFailures: 1, rejected: {} });
    ingest.accept(DEV, topic(), data(1));
    await ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(acks.map((a) => a.ack.stored)).toEqual([[1]]);
  });

  it('acknowledges nothing when the flush cannot check the holders', async () => {
    const { devices, acks, ingest } = setup();
    devices.claims.set(DEV, 'site-1');
    ingest.accept(DEV, topic(), data(1));
    await settle();
    devices.failNext = true;
    await ingest.flush();
    expect(acks).toEqual([]);
    expect(ingest.stats().storeFailures).toBe(1);
  });

  it('records a guardian online, its births and its disconnect in the order they happened', async () => {
    const born: string[] = [];
    const { devices, ingest } = setup({ birthListeners: [(b) => { born.push(`${b.site}/${b.birth.asset}:${b.birth.profile}`); }] });
    const nbirth = sparkplugTopic({ group: 'site-1', type: 'NBIRTH', edge: DEV });
    ingest.accept(DEV, nbirth, Buffer.from(encodeNodeBirth(0, '1.2.0', { sparkplugSeq: 0, now: NOW })));
    ingest.accept(DEV, birthTopic(DEV, 'AHU-01'), birth('AHU one'));
    ingest.deviceDisconnected(DEV);
    await ingest.flush();
    expect(devices.events).toEqual([`online ${DEV[0]}`, `offline ${DEV[0]}`]);
    expect(born).toEqual(['site-1/AHU-01:p']);
  });

  it('tells birth listeners nothing of a refused birth', async () => {
    const born: string[] = [];
    const { devices, ingest } = setup({ birthListeners: [(b) => { born.push(b.birth.asset); }] });
    devices.owners.set('site-1/AHU-01', OTHER);
    ingest.accept(DEV, birthTopic(DEV, 'AHU-01'), birth());
    await ingest.flush();
    expect(born).toEqual([]);
    expect(ingest.stats().rejected).toEqual({ asset_bound_elsewhere: 1 });
  });
});

describe('Ingest: stored-batch listeners', () => {
  it('passes stored batches to each listener in order, per batch and per sample', async () => {
    const calls: string[] = [];
    const { ingest } = setup({
      listeners: [
        eachBatch((site, asset, samples) => calls.push(`batch ${site}/${asset} ${samples.length}`)),
        eachSample((_site, asset, s) => calls.push(`sample ${asset} ${s.point}`)),
      ],
    });
    ingest.accept(DEV, topic(DEV, 'A-1'), data(1, { samples: [sample(NOW - 2, 'x'), sample(NOW - 1, 'y')] }));
    await ingest.flush();
    expect(calls).toEqual(['batch site-1/A-1 2', 'sample A-1 x', 'sample A-1 y']);
  });

  it('acknowledges although a listener throws or rejects, and waits for an asynchronous one before the next flush', async () => {
    let release!: () => void;
    const seen: number[] = [];
    const { ingest, acks } = setup({
      listeners: [
        () => { throw new Error('boom'); },
        () => Promise.reject(new Error('async boom')),
        (batches) => new Promise<void>((resolve) => { seen.push(...batches.map((b) => b.seq)); release = resolve; }),
      ],
    });
    ingest.accept(DEV, topic(), data(1));
    const first = ingest.flush();
    await settle();
    expect(acks.map((a) => a.ack.stored)).toEqual([[1]]);
    ingest.accept(DEV, topic(), data(2));
    const second = ingest.flush();
    await settle();
    expect(seen).toEqual([1]);
    release();
    await first;
    await settle();
    release();
    await second;
    expect(seen).toEqual([1, 2]);
  });

  it('waits on close for the incidents being written, and survives one that cannot be', async () => {
    let written = 0;
    const { ingest } = setup({
      incidents: { raise: async (i) => { await settle(); if (i.reason === 'site_mismatch') throw new Error('db down'); written++; return { ...i, id: 1, openedAt: NOW, status: 'open' } as Incident; } },
    });
    ingest.accept(DEV, topic(OTHER), data(1));                   // edge_mismatch: no incident
    ingest.accept(DEV, topic(DEV, 'A-1'), data(2, { samples: [sample(9e15)] })); // sample_in_future: an incident
    await ingest.close();
    expect(written).toBe(1);
  });
});

describe('Ingest: hand-off to the bus (scale-out)', () => {
  /** A hand-off that records what it was given; `fail` rejects the next calls, `gate` holds them. */
  function recordingHandOff() {
    const calls: { seq: number; asset: string; samples: number }[][] = [];
    const state = { fail: 0, gate: undefined as Promise<void> | undefined };
    const handOff = async (batches: readonly IncomingBatch[]) => {
      calls.push(batches.map((b) => ({ seq: b.seq, asset: b.asset, samples: b.samples.length })));
      await state.gate;
      if (state.fail > 0) {
        state.fail--;
        throw new Error('bus_publish_failed: no stream answered');
      }
    };
    return { calls, state, handOff };
  }

  it('hands each batch a flush stored over once, before any of them is acknowledged', async () => {
    const bus = recordingHandOff();
    let open!: () => void;
    bus.state.gate = new Promise((resolve) => { open = resolve; });
    const { ingest, acks, storage } = setup({ handOff: bus.handOff });
    ingest.accept(DEV, topic(DEV, 'A-1'), data(1));
    ingest.accept(DEV, topic(DEV, 'A-1'), data(2, { samples: [sample(NOW - 20), sample(NOW - 10)] }));
    ingest.accept(DEV, topic(DEV, 'A-1'), data(2, { samples: [sample(NOW - 20), sample(NOW - 10)] })); // redelivered within the flush
    ingest.accept(DEV, topic(DEV, 'A-2'), data(3));
    const flushed = ingest.flush();
    await vi.waitFor(() => expect(bus.calls).toHaveLength(1), { timeout: 20_000 });
    // Stored, handed off (not yet confirmed): nothing acknowledged.
    expect(storage.samples).toHaveLength(4);
    await settle();
    expect(acks).toEqual([]);
    open();
    await flushed;
    expect(bus.calls).toEqual([[{ seq: 1, asset: 'A-1', samples: 1 }, { seq: 2, asset: 'A-1', samples: 2 }, { seq: 3, asset: 'A-2', samples: 1 }]]);
    // Every delivery is acknowledged (the redelivery of 2 as well), as without a hand-off.
    expect(acks.map((a) => a.ack.stored)).toEqual([[1, 2, 3, 2]]);

    // The next flush hands over its own batches only.
    ingest.accept(DEV, topic(DEV, 'A-1'), data(4));
    await ingest.flush();
    expect(bus.calls).toHaveLength(2);
    expect(bus.calls[1]).toEqual([{ seq: 4, asset: 'A-1', samples: 1 }]);
    expect(ingest.stats().handOffFailures).toBe(0);
  });

  it('hands over nothing of a flush that stored nothing, and still sends its refusals', async () => {
    const bus = recordingHandOff();
    const { ingest, acks } = setup({ handOff: bus.handOff, limits: { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, clockWarnMs: 30_000 } });
    ingest.accept(DEV, topic(), data(1, { samples: [sample(9e15)] }));
    await ingest.flush();
    expect(bus.calls).toEqual([]);
    expect(acks.map((a) => a.ack)).toEqual([{ v: 1, epoch: 'e1', stored: [], rejected: [{ seq: 1, reason: 'sample_in_future' }] }]);
  });

  it('does not hand over a batch whose sequence was reused with other samples', async () => {
    const bus = recordingHandOff();
    const { ingest } = setup({ handOff: bus.handOff });
    ingest.accept(DEV, topic(), data(3, { samples: [sample(NOW - 5000)] }));
    await ingest.flush();
    ingest.accept(DEV, topic(), data(3, { samples: [sample(NOW - 100)] }));
    await ingest.flush();
    expect(bus.calls.map((c) => c.map((b) => b.seq))).toEqual([[3]]);
  });

  it('acknowledges nothing stored in a flush whose hand-off fails, keeps it stored, and counts it', async () => {
    const bus = recordingHandOff();
    bus.state.fail = 1;
    const seen: number[] = [];
    const { ingest, acks, storage } = setup({
      handOff: bus.handOff, listeners: [(batches) => { seen.push(...batches.map((b) => b.seq)); }],
      limits: { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, clockWarnMs: 30_000 },
    });
    ingest.accept(DEV, topic(DEV, 'A-1'), data(1));
    ingest.accept(DEV, topic(DEV, 'A-2'), data(2));
    ingest.accept(DEV, topic(DEV, 'A-1'), data(3, { samples: [sample(9e15)] })); // refused for good
    await ingest.flush();
    expect(bus.calls.map((c) => c.map((b) => b.seq))).toEqual([[1, 2]]);
    expect(storage.samples).toHaveLength(2);
    // The refusal is final whatever the bus says; the stored batches are not acknowledged.
    expect(acks.map((a) => a.ack)).toEqual([{ v: 1, epoch: 'e1', stored: [], rejected: [{ seq: 3, reason: 'sample_in_future' }] }]);
    expect(ingest.stats()).toMatchObject({ handOffFailures: 1, batchesStored: 2, storeFailures: 0 });
    expect(seen).toEqual([1, 2]);
  });

  it('hands a redelivery of a batch stored before over again, and acknowledges it once handed over', async () => {
    const bus = recordingHandOff();
    bus.state.fail = 1;
    const seen: number[] = [];
    const { ingest, acks, storage } = setup({ handOff: bus.handOff, listeners: [(batches) => { seen.push(...batches.map((b) => b.seq)); }] });
    ingest.accept(DEV, topic(), data(1));
    await ingest.flush();
    expect(acks).toEqual([]);

    // The guardian had no ack: it sends the batch again.
    ingest.accept(DEV, topic(), data(1));
    await ingest.flush();
    expect(storage.samples).toHaveLength(1);
    expect(ingest.stats()).toMatchObject({ batchesStored: 1, batchesDuplicate: 1, handOffFailures: 1 });
    expect(bus.calls.map((c) => c.map((b) => b.seq))).toEqual([[1], [1]]);
    expect(acks.map((a) => a.ack)).toEqual([{ v: 1, epoch: 'e1', stored: [1], rejected: [] }]);
    // Local listeners hear of a batch once, when it is first stored.
    expect(seen).toEqual([1]);
  });

  it('acknowledges nothing while the hand-off keeps failing, and stops once a redelivery is handed over', async () => {
    const bus = recordingHandOff();
    bus.state.fail = 3;
    const { ingest, acks } = setup({ handOff: bus.handOff });
    for (let attempt = 1; attempt <= 4; attempt++) {
      ingest.accept(DEV, topic(), data(1));
      await ingest.flush();
      expect(acks).toHaveLength(attempt === 4 ? 1 : 0);
    }
    expect(bus.calls).toHaveLength(4);
    expect(ingest.stats()).toMatchObject({ handOffFailures: 3, batchesStored: 1, batchesDuplicate: 3 });
  });
});
