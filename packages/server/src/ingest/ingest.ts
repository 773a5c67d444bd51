/**
 * Ingest: what the broker accepted becomes stored telemetry (ARCHITECTURE.md §3).
 *
 * decode -> validate -> batch -> one transaction -> acknowledge. A batch is acknowledged to its
 * guardian only after the transaction that stored it has committed, and a batch seen before is
 * acknowledged again without being stored twice. Malformed messages are counted by reason and
 * logged (rate-limited); they never stop ingest.
 *
 * Least privilege (ARCHITECTURE.md §2), checked here because only ingest knows what a message
 * claims to be about: a guardian speaks only for its claimed site, only for the assets bound to
 * it (the first guardian to report an asset holds it; moving it is an audited operator action),
 * only with sample times near the server's clock, and only within its quotas of assets and points.
 * A refused batch is refused for good: the guardian keeps it aside (nothing is lost) and stops
 * sending it; security-relevant refusals also raise an incident.
 *
 * Order and the directory. Each device has a lane: a message that needs an answer from the device
 * directory (the device's claim, an asset not yet known to be its own, a birth or death to record)
 * waits in it for that answer, and every later message of the device waits behind it, so a
 * device's batches reach the store in the order they arrived. A message that needs nothing new —
 * the steady state — is admitted at once, without a query.
 *
 * The ownership cache and why it cannot let a guardian write another's asset: a lane remembers the
 * assets its device holds (read from the directory once, extended by each successful bind). That
 * memory only lets a batch into the next flush; before the flush stores anything, it reads the
 * holders of every asset in it from the database in one query and refuses the batches of an asset
 * held by another guardian. So an operator's move — on this replica or any other — takes effect
 * for the old guardian with the next flush that starts after the move commits, and the cache entry
 * is dropped then. Binding itself is one atomic insert-if-absent in the database.
 */
import type { Logger } from 'pino';
import {
  BatchRefusals, ControlKinds, ProtocolError, controlTopic, decodeDeviceBirth, decodeDeviceData, decodeNodeState,
  encodeBatchAck, errorMessage, parseSparkplugTopic, systemClock, type BatchRefusal, type Clock, type SparkplugTopic, type TimerHandle,
  type DecodedDeviceData,
} from '@shellguard/protocol';
import {
  DEFAULT_DEVICE_QUOTAS, DEFAULT_INGEST_LIMITS, type DeviceQuotas, type IngestLimits,
} from '../config/config.ts';
import type { IncidentInput, IncidentRaiser } from '../incidents/incident-log.ts';
import type { AppendResult, BatchRef, IncomingBatch, PointAdmission, TelemetryStore } from '../telemetry/telemetry-store.ts';
import type { AssetRef, DeviceDirectory } from './device-directory.ts';
import type { AssetBirthListener, StoredBatchListener } from './ingest-listeners.ts';
import { checkSampleTimes } from './sample-window.ts';

export type { IncomingBatch };

export interface AckPublisher {
  (deviceId: string, topic: string, payload: Buffer): void;
}

export interface IngestOptions {
  /** Where batches are stored (see TelemetryStore.appendBatches), and how many points an asset has. */
  telemetry: Pick<TelemetryStore, 'appendBatches' | 'pointCount'>;
  /** Claims, asset bindings and device state. */
  devices: DeviceDirectory;
  publishToDevice: AckPublisher;
  logger: Logger;
  /** The server's time, and the flush timer (default systemClock). */
  clock?: Clock;
  /** Sample-time window and clock check (default DEFAULT_INGEST_LIMITS). */
  limits?: IngestLimits;
  /** Assets and points one guardian may have (default DEFAULT_DEVICE_QUOTAS). */
  quotas?: Pick<DeviceQuotas, 'maxPointsPerAsset' | 'maxPointsPerDevice' | 'maxAssetsPerDevice'>;
  /** Where security-relevant refusals become incidents (at most one per device, reason and asset an hour). */
  incidents?: IncidentRaiser;
  /** Told, after each flush, the batches it stored for the first time (see StoredBatchListener). */
  listeners?: readonly StoredBatchListener[];
  /** Told each asset birth recorded (profiles, panel lists). */
  birthListeners?: readonly AssetBirthListener[];
  /**
   * Scale-out (issue 12): a durable hand-off of every batch a flush stored or found stored (a
   * redelivery), awaited before any of them is acknowledged. When it rejects none of them is
   * acknowledged: the guardians redeliver and they are handed over again, so what was stored is
   * never left out of the hand-off.
   */
  handOff?: StoredBatchHandOff;
  /** Flush when this many samples are waiting... */
  maxPendingSamples?: number;
  /** ...or this long after the first one arrived. */
  flushIntervalMs?: number;
}

/** See IngestOptions.handOff. */
export type StoredBatchHandOff = (batches: readonly IncomingBatch[]) => Promise<void>;

export interface IngestStats {
  messages: number;
  batchesStored: number;
  batchesDuplicate: number;
  /** Batches whose (device, epoch, seq) was stored before with other samples: never stored. */
  batchesConflicting: number;
  samplesStored: number;
  /** Flushes that could not be stored (nothing of them acknowledged; guardians redeliver). */
  storeFailures: number;
  /** Messages that could not be judged because the device directory failed (not acknowledged; redelivered). */
  directoryFailures: number;
  /** Flushes whose hand-off to the bus failed (stored, not acknowledged; guardians redeliver). */
  handOffFailures: number;
  /** Messages refused, by reason code. */
  rejected: Record<string, number>;
  /** Samples outside the time window, by reason (their whole batch is refused). */
  samplesRefused: { sample_in_future: number; sample_too_old: number };
  /** Guardians whose clock is off by more than the warning limit, with the offset (ms). */
  clockSuspects: Record<string, number>;
}

const LOG_BURST = 5;
const LOG_WINDOW_MS = 60_000;
const INCIDENT_WINDOW_MS = 3_600_000;

/** Refusals that mean something is wrong beyond a malformed message: they raise an incident. */
const INCIDENT_SEVERITY: Partial<Record<BatchRefusal | 'clock_skew', IncidentInput['severity']>> = {
  asset_bound_elsewhere: 'high',
  site_mismatch: 'high',
  batch_seq_reused: 'medium',
  point_quota_exceeded: 'medium',
  asset_quota_exceeded: 'medium',
  sample_in_future: 'low',
  clock_skew: 'low',
};

type AckKey = string;

/** A message as the broker handed it over, with the time it arrived. */
interface Arrival {
  deviceId: string;
  topic: SparkplugTopic;
  payload: Buffer;
  now: number;
}

/** One device's place in ingest: its queue of messages waiting for the directory, and what is known of it. */
interface DeviceLane {
  tail: Promise<void>;
  /** Messages (and disconnects) waiting in `tail`. */
  queued: number;
  /**
   * The directory's answer on the device's claim, kept until it disconnects: the broker lets a
   * device connect only when claimed, and a claim never changes site.
   */
  claim?: { site: string | undefined };
  /** The assets the device holds, as far as this ingest knows (see the file comment); undefined until read. */
  assets?: Map<string, AssetRef>;
}

const assetKey = (site: string, asset: string): string => `${site}\0${asset}`;

export class Ingest {
  private readonly telemetry: IngestOptions['telemetry'];
  private readonly devices: DeviceDirectory;
  private readonly publishToDevice: AckPublisher;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly limits: IngestLimits;
  private readonly quotas: NonNullable<IngestOptions['quotas']>;
  private readonly incidents: IncidentRaiser | undefined;
  private readonly maxPendingSamples: number;
  private readonly flushIntervalMs: number;
  private readonly listeners: readonly StoredBatchListener[];
  private readonly birthListeners: readonly AssetBirthListener[];
  private readonly handOff: StoredBatchHandOff | undefined;
  private readonly lanes = new Map<string, DeviceLane>();
  private pending: IncomingBatch[] = [];
  private pendingSamples = 0;
  /** deviceId \0 epoch -> refused batches to report in the next ack. */
  private pendingRejections = new Map<AckKey, { seq: number; reason: string }[]>();
  private flushTimer: TimerHandle | undefined;
  /** Flushes run one after another: each waits for the one before it to be stored and acknowledged. */
  private flushChain: Promise<void> = Promise.resolve();
  private readonly logBudget = new Map<string, { windowStart: number; count: number }>();
  private readonly incidentRaisedAt = new Map<string, number>();
  /** Incidents being written; `close()` waits for them. */
  private readonly incidentWrites = new Set<Promise<unknown>>();
  private readonly clockOffsets = new Map<string, number>();
  private readonly stats_: IngestStats = {
    messages: 0, batchesStored: 0, batchesDuplicate: 0, batchesConflicting: 0, samplesStored: 0, storeFailures: 0, directoryFailures: 0, handOffFailures: 0,
    rejected: {}, samplesRefused: { sample_in_future: 0, sample_too_old: 0 }, clockSuspects: {},
  };
  private readonly admitPoints: PointAdmission = (batch, newPoints, pointsOfAsset) => this.admitNewPoints(batch, newPoints, pointsOfAsset);

  constructor(opts: IngestOptions) {
    this.telemetry = opts.telemetry;
    this.devices = opts.devices;
    this.publishToDevice = opts.publishToDevice;
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.limits = opts.limits ?? DEFAULT_INGEST_LIMITS;
    this.quotas = opts.quotas ?? DEFAULT_DEVICE_QUOTAS;
    this.incidents = opts.incidents;
    this.maxPendingSamples = opts.maxPendingSamples ?? 20_000;
    this.flushIntervalMs = opts.flushIntervalMs ?? 20;
    this.listeners = opts.listeners ?? [];
    this.birthListeners = opts.birthListeners ?? [];
    this.handOff = opts.handOff;
  }

  /** Called for every publish the broker accepted from an authenticated device. */
  accept(deviceId: string, topic: string, payload: Buffer): void {
    this.stats_.messages += 1;
    const t = parseSparkplugTopic(topic);
    if (!t) return; // control messages from devices are handled by their own domains
    if (t.edge !== deviceId) {
      this.refuse(deviceId, 'edge_mismatch', `topic ${topic} names another edge node`);
      return;
    }
    const arrival: Arrival = { deviceId, topic: t, payload, now: this.clock.now() };
    const lane = this.laneOf(deviceId);
    if (lane.queued === 0 && this.admitKnown(lane, arrival)) return;
    this.enqueue(lane, () => this.admit(lane, arrival));
    // The flush is due flushIntervalMs after the data arrived, however long its check takes.
    if (t.type === 'DDATA') this.scheduleFlush();
  }

  /**
   * The device's connection closed: it is recorded offline after whatever it sent before, and
   * what ingest knew of its assets is read again when it is back.
   */
  deviceDisconnected(deviceId: string): void {
    const lane = this.laneOf(deviceId);
    const now = this.clock.now();
    this.enqueue(lane, async () => {
      lane.claim = undefined;
      lane.assets = undefined;
      try {
        await this.devices.recordDeviceOffline(deviceId, now);
      } catch (err) {
        this.logger.error({ deviceId, err: errorMessage(err) }, 'could not record a guardian offline');
      }
      // Nothing queued behind this: the lane goes, and a reconnect starts a new one.
      if (lane.queued === 1 && this.lanes.get(deviceId) === lane) this.lanes.delete(deviceId);
    });
  }

  private laneOf(deviceId: string): DeviceLane {
    let lane = this.lanes.get(deviceId);
    if (!lane) this.lanes.set(deviceId, (lane = { tail: Promise.resolve(), queued: 0 }));
    return lane;
  }

  private enqueue(lane: DeviceLane, work: () => Promise<void>): void {
    lane.queued += 1;
    lane.tail = lane.tail.then(work).catch((err: unknown) => {
      this.logger.error({ err: errorMessage(err) }, 'ingest could not handle a message');
    }).finally(() => { lane.queued -= 1; });
  }

  /**
   * Admits a message without asking the directory, when everything it needs is known: the
   * device's claimed site, and for data an asset it holds. False when it must wait in the lane.
   */
  private admitKnown(lane: DeviceLane, m: Arrival): boolean {
    if (!lane.claim) return false;
    const claimed = lane.claim.site;
    if (m.topic.type === 'DDATA') {
      if ((claimed === undefined || claimed === m.topic.group) && !lane.assets?.has(assetKey(m.topic.group, m.topic.device!))) return false;
    } else if (m.topic.type === 'DBIRTH' || m.topic.type === 'NBIRTH' || m.topic.type === 'NDEATH') {
      return false; // recorded in the directory, in order
    }
    if (!this.withinClaim(m, claimed)) return true;
    if (m.topic.type !== 'DDATA') {
      this.devices.recordDeviceSeen(m.deviceId, m.now);
      return true;
    }
    const data = this.judge(m, () => decodeDeviceData(m.payload));
    if (data) {
      this.checkClock(m.deviceId, data.sentAt, m.now);
      this.queueData(m, data);
    }
    return true;
  }

  /** Admits a message in its lane, asking the directory what it needs. */
  private async admit(lane: DeviceLane, m: Arrival): Promise<void> {
    const { deviceId, topic: t, payload, now } = m;
    try {
      lane.claim ??= { site: await this.devices.claimedSite(deviceId) };
      if (!this.withinClaim(m, lane.claim.site)) return;
      switch (t.type) {
        case 'DDATA': {
          const data = this.judge(m, () => decodeDeviceData(payload));
          if (data === undefined) return;
          this.checkClock(deviceId, data.sentAt, now);
          const refusal = await this.holdAsset(lane, deviceId, t.group, t.device!, now);
          if (refusal !== undefined) this.queueRejection(deviceId, data.epoch, data.seq, refusal);
          else this.queueData(m, data);
          return;
        }
        case 'DBIRTH': {
          const birth = this.judge(m, () => decodeDeviceBirth(payload, t.device!));
          if (birth === undefined) return;
          if (await this.holdAsset(lane, deviceId, t.group, birth.asset, now) !== undefined) return;
          if (!await this.devices.recordAssetBirth(deviceId, t.group, birth, now)) {
            // Moved away between the check and the birth: the database said no.
            lane.assets?.delete(assetKey(t.group, birth.asset));
            this.refuse(deviceId, 'asset_bound_elsewhere', `asset ${t.group}/${birth.asset} is bound to another guardian`, { site: t.group, asset: birth.asset });
            return;
          }
          for (const listener of this.birthListeners) {
            try {
              listener({ deviceId, site: t.group, birth, at: now });
            } catch (err) {
              this.logger.error({ err: errorMessage(err), asset: birth.asset }, 'an asset birth listener failed; the birth is recorded');
            }
          }
          return;
        }
        case 'NBIRTH': {
          const state = this.judge(m, () => decodeNodeState(payload));
          if (state === undefined) return;
          this.checkClock(deviceId, state.sentAt, now);
          await this.devices.recordDeviceOnline(deviceId, t.group, state.version ?? 'unknown', now);
          return;
        }
        case 'NDEATH':
          if (this.judge(m, () => decodeNodeState(payload)) === undefined) return;
          await this.devices.recordDeviceOffline(deviceId, now);
          return;
        default:
          this.devices.recordDeviceSeen(deviceId, now);
      }
    } catch (err) {
      // Nothing is acknowledged or refused: a batch among these comes again and is judged then.
      this.stats_.directoryFailures += 1;
      this.logger.error({ deviceId, type: t.type, err: errorMessage(err) }, 'could not check a message with the device directory; the guardian will redeliver');
    }
  }

  /** Refuses a message under a site the device is not claimed into; true when it may go on. */
  private withinClaim(m: Arrival, claimed: string | undefined): boolean {
    const { deviceId, topic: t, payload } = m;
    if (claimed === undefined || claimed === t.group) return true;
    this.refuse(deviceId, 'site_mismatch', `device is claimed into site ${claimed} but published under ${t.group}`,
      { site: t.group, claimedSite: claimed, ...(t.device ? { asset: t.device } : {}) });
    if (t.type === 'DDATA') this.rejectBatchOf(deviceId, payload, 'site_mismatch');
    return false;
  }

  /**
   * Runs a step that decodes and validates; a ProtocolError refuses the message (for good, for a
   * batch whose sequence is readable). Returns the step's result, undefined when refused.
   */
  private judge<T>(m: Arrival, step: () => T): T | undefined {
    try {
      return step();
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.refuse(m.deviceId, err.code, err.message);
      const { seq, epoch } = err.details;
      // The batch can never be stored: tell the guardian so it stops redelivering it.
      if (m.topic.type === 'DDATA' && typeof seq === 'number') {
        this.queueRejection(m.deviceId, typeof epoch === 'string' ? epoch : '', seq, err.code);
      }
      return undefined;
    }
  }

  /** Queues a decoded DDATA of an asset its guardian holds for the next flush, unless its sample times are implausible. */
  private queueData(m: Arrival, data: DecodedDeviceData): void {
    const { deviceId, now } = m;
    const site = m.topic.group;
    const asset = m.topic.device!;
    const { epoch, seq, samples } = data;
    const window = checkSampleTimes(samples, now, this.limits);
    if (window.verdict !== 'ok') {
      this.stats_.samplesRefused.sample_in_future += window.future;
      this.stats_.samplesRefused.sample_too_old += window.tooOld;
      this.refuse(deviceId, window.verdict, `batch ${seq} of ${asset} has ${window.future} sample(s) stamped in the future and ${window.tooOld} too old (first at ${isoOrRaw(window.firstTs!)})`,
        { site, asset, seq, future: window.future, tooOld: window.tooOld, firstTs: window.firstTs });
      this.queueRejection(deviceId, epoch, seq, window.verdict);
      return;
    }
    this.pending.push({ deviceId, site, asset, epoch, seq, samples });
    this.pendingSamples += samples.length;
    this.scheduleFlush();
  }

  /** The assets a lane's device holds, read from the directory the first time they are needed. */
  private async assetsOfLane(lane: DeviceLane, deviceId: string): Promise<Map<string, AssetRef>> {
    if (!lane.assets) {
      const held = await this.devices.assetsOf(deviceId);
      lane.assets ??= new Map(held.map((a) => [assetKey(a.site, a.asset), { site: a.site, asset: a.asset }]));
    }
    return lane.assets;
  }

  /**
   * Asset binding: an asset is bound to exactly one guardian. The first to report it holds it
   * (within its asset quota); anyone else is refused. Returns the refusal, or undefined.
   */
  private async holdAsset(lane: DeviceLane, deviceId: string, site: string, asset: string, now: number): Promise<BatchRefusal | undefined> {
    const held = await this.assetsOfLane(lane, deviceId);
    const k = assetKey(site, asset);
    if (held.has(k)) return undefined;
    let owner: string | undefined;
    if (held.size >= this.quotas.maxAssetsPerDevice) {
      // At its quota the guardian binds nothing new; the asset may still be its own (moved to it) or another's.
      owner = (await this.devices.holdersOf([{ site, asset }]))[0]?.deviceId;
      if (owner === undefined) {
        this.refuse(deviceId, 'asset_quota_exceeded', `guardian already reports ${this.quotas.maxAssetsPerDevice} assets; ${site}/${asset} refused`,
          { site, asset, limit: this.quotas.maxAssetsPerDevice });
        return 'asset_quota_exceeded';
      }
    } else {
      const binding = await this.devices.bindAsset(site, asset, deviceId, now);
      owner = binding.owner;
      if (binding.bound) this.logger.info({ deviceId, site, asset }, 'asset bound to the guardian that first reported it');
    }
    if (owner === deviceId) {
      held.set(k, { site, asset });
      return undefined;
    }
    this.refuse(deviceId, 'asset_bound_elsewhere', `asset ${site}/${asset} is bound to guardian ${owner}`, { site, asset, boundTo: owner });
    return 'asset_bound_elsewhere';
  }

  /** Quotas on new series, asked by the store inside the append (only when a batch would create points). */
  private admitNewPoints(batch: IncomingBatch, newPoints: number, pointsOfAsset: number): string | undefined {
    const { maxPointsPerAsset, maxPointsPerDevice } = this.quotas;
    let refusal: string | undefined;
    if (pointsOfAsset + newPoints > maxPointsPerAsset) {
      refusal = `asset ${batch.site}/${batch.asset} would have ${pointsOfAsset + newPoints} points (at most ${maxPointsPerAsset})`;
    } else {
      // The guardian's assets as this ingest knows them (the batch's own asset among them: it was checked).
      const assets = this.lanes.get(batch.deviceId)?.assets ?? new Map([[assetKey(batch.site, batch.asset), { site: batch.site, asset: batch.asset }]]);
      let total = newPoints;
      for (const a of assets.values()) total += this.telemetry.pointCount(a.site, a.asset);
      if (total > maxPointsPerDevice) refusal = `the guardian's assets would have ${total} points (at most ${maxPointsPerDevice})`;
    }
    if (refusal === undefined) return undefined;
    this.refuse(batch.deviceId, 'point_quota_exceeded', `batch ${batch.seq} refused: ${refusal}`,
      { site: batch.site, asset: batch.asset, seq: batch.seq, newPoints });
    return 'point_quota_exceeded';
  }

  /** Compares the guardian's clock (the payload timestamp) with ours; flags a guardian that is off. */
  private checkClock(deviceId: string, sentAt: number, now: number): void {
    if (sentAt <= 0) return;
    const offset = sentAt - now;
    const previous = this.clockOffsets.get(deviceId);
    const suspect = Math.abs(offset) > this.limits.clockWarnMs;
    const wasSuspect = deviceId in this.stats_.clockSuspects;
    if (previous === undefined || Math.abs(previous - offset) >= 1000 || suspect !== wasSuspect) {
      this.clockOffsets.set(deviceId, offset);
      this.devices.recordClockOffset(deviceId, offset, now).catch((err: unknown) => {
        this.logger.warn({ deviceId, err: errorMessage(err) }, 'could not record a guardian clock offset');
      });
    }
    if (suspect) {
      this.stats_.clockSuspects[deviceId] = offset;
      if (!wasSuspect) {
        this.refuse(deviceId, 'clock_skew', `guardian clock is ${Math.round(offset / 1000)} s ${offset > 0 ? 'ahead of' : 'behind'} the server's; check its time source (NTP)`,
          { offsetMs: offset }, false);
      }
    } else if (wasSuspect) {
      delete this.stats_.clockSuspects[deviceId];
      this.logger.info({ deviceId, offsetMs: offset }, 'guardian clock back within limits');
    }
  }

  /** Tells the guardian a batch will never be stored, when its sequence can be read at all. */
  private rejectBatchOf(deviceId: string, payload: Buffer, reason: string): void {
    let ref: { seq: number; epoch: string } | undefined;
    try {
      const d = decodeDeviceData(payload);
      ref = { seq: d.seq, epoch: d.epoch };
    } catch (err) {
      if (err instanceof ProtocolError && typeof err.details.seq === 'number') {
        ref = { seq: err.details.seq, epoch: typeof err.details.epoch === 'string' ? err.details.epoch : '' };
      }
    }
    if (ref !== undefined) this.queueRejection(deviceId, ref.epoch, ref.seq, reason);
  }

  private queueRejection(deviceId: string, epoch: string, seq: number, reason: string): void {
    const key = ackKey(deviceId, epoch);
    const list = this.pendingRejections.get(key) ?? [];
    list.push({ seq, reason });
    this.pendingRejections.set(key, list);
    this.scheduleFlush();
  }

  /**
   * Counts a refusal by code, logs it (rate-limited per code), and for the security-relevant
   * codes raises an incident (at most one per device, code and asset an hour).
   */
  private refuse(deviceId: string, code: string, message: string, detail: Record<string, unknown> = {}, count = true): void {
    if (count) this.stats_.rejected[code] = (this.stats_.rejected[code] ?? 0) + 1;
    const now = this.clock.now();
    const severity = INCIDENT_SEVERITY[code as BatchRefusal];
    if (severity && this.incidents) {
      const key = `${code}\0${deviceId}\0${String(detail.site ?? '')}\0${String(detail.asset ?? '')}`;
      const last = this.incidentRaisedAt.get(key);
      if (last === undefined || now - last >= INCIDENT_WINDOW_MS) {
        this.incidentRaisedAt.set(key, now);
        this.raiseIncident({
          kind: 'telemetry_refused', severity, deviceId, reason: code,
          summary: `telemetry from ${deviceId} refused: ${message}`,
          detail: { ...detail, ...(code in BatchRefusals ? { action: BatchRefusals[code as BatchRefusal] } : {}) },
        }, code);
      }
    }
    const budget = this.logBudget.get(code);
    if (!budget || now - budget.windowStart > LOG_WINDOW_MS) {
      this.logBudget.set(code, { windowStart: now, count: 1 });
    } else if (++budget.count > LOG_BURST) {
      return;
    }
    this.logger.warn({ deviceId, code, reason: message, total: this.stats_.rejected[code] ?? 0, ...detail }, 'refused a message');
  }

  /** Writes an incident without holding up ingest; `close()` waits for the writes in flight. */
  private raiseIncident(incident: IncidentInput, code: string): void {
    let write: Promise<unknown>;
    try {
      write = this.incidents!.raise(incident);
    } catch (err) {
      write = Promise.reject(err);
    }
    const tracked = write.catch((err: unknown) => {
      this.logger.error({ err: errorMessage(err), code }, 'could not record an incident for refused telemetry');
    }).finally(() => this.incidentWrites.delete(tracked));
    this.incidentWrites.add(tracked);
  }

  private scheduleFlush(): void {
    if (this.pendingSamples >= this.maxPendingSamples) {
      this.clock.clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      void this.flushPending();
      return;
    }
    this.flushTimer ??= this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      void this.flushPending();
    }, this.flushIntervalMs);
  }

  /**
   * Stores and acknowledges everything accepted so far: waits for the messages still being
   * checked with the directory, then writes what is pending in one transaction. Resolves once
   * this flush's acknowledgements are sent; never rejects.
   */
  async flush(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.tail));
    return this.flushPending();
  }

  /** Writes what is pending now; what arrives meanwhile waits for the next flush. */
  private flushPending(): Promise<void> {
    const batches = this.pending;
    const rejections = this.pendingRejections;
    this.pending = [];
    this.pendingSamples = 0;
    this.pendingRejections = new Map();
    this.flushChain = this.flushChain.then(() => this.store(batches, rejections));
    return this.flushChain;
  }

  /**
   * The database's word on who holds each asset of a flush (see the file comment): the batches of
   * assets their guardian still holds, the others refused (held by another) or left for their
   * redelivery (held by none: it is bound again then).
   */
  private async confirmHolders(batches: IncomingBatch[], reject: (ref: BatchRef, reason: string) => void): Promise<IncomingBatch[]> {
    const keys = new Map<string, AssetRef>();
    for (const b of batches) keys.set(assetKey(b.site, b.asset), { site: b.site, asset: b.asset });
    const holders = new Map<string, string>();
    for (const h of await this.devices.holdersOf([...keys.values()])) holders.set(assetKey(h.site, h.asset), h.deviceId);
    return batches.filter((b) => {
      const k = assetKey(b.site, b.asset);
      const holder = holders.get(k);
      if (holder === b.deviceId) return true;
      this.lanes.get(b.deviceId)?.assets?.delete(k);
      if (holder !== undefined) {
        this.refuse(b.deviceId, 'asset_bound_elsewhere', `asset ${b.site}/${b.asset} is bound to guardian ${holder}`,
          { site: b.site, asset: b.asset, boundTo: holder });
        reject({ deviceId: b.deviceId, epoch: b.epoch, seq: b.seq }, 'asset_bound_elsewhere');
      }
      return false;
    });
  }

  private async store(batches: IncomingBatch[], rejections: Map<AckKey, { seq: number; reason: string }[]>): Promise<void> {
    const acks = new Map<AckKey, number[]>();
    const reject = (ref: BatchRef, reason: string) => {
      const key = ackKey(ref.deviceId, ref.epoch);
      const list = rejections.get(key) ?? [];
      list.push({ seq: ref.seq, reason });
      rejections.set(key, list);
    };
    let notified: Promise<void> | undefined;
    if (batches.length > 0) {
      let outcome: AppendResult;
      let confirmed: IncomingBatch[];
      try {
        confirmed = await this.confirmHolders(batches, reject);
        outcome = confirmed.length > 0
          ? await this.telemetry.appendBatches(confirmed, this.admitPoints)
          : { stored: [], duplicates: [], conflicts: [], refused: [], samplesStored: 0 };
      } catch (err) {
        // Nothing is acknowledged, so guardians keep these batches and send them again.
        this.stats_.storeFailures += 1;
        this.logger.error({ err: errorMessage(err), batches: batches.length }, 'could not store telemetry; guardians will redeliver it');
        return;
      }
      this.stats_.batchesStored += outcome.stored.length;
      this.stats_.batchesDuplicate += outcome.duplicates.length;
      this.stats_.batchesConflicting += outcome.conflicts.length;
      this.stats_.samplesStored += outcome.samplesStored;
      for (const ref of [...outcome.stored, ...outcome.duplicates]) {
        const key = ackKey(ref.deviceId, ref.epoch);
        let list = acks.get(key);
        if (!list) acks.set(key, (list = []));
        list.push(ref.seq);
      }
      for (const ref of outcome.conflicts) {
        // Never a silent duplicate: the sequence went backwards within this queue's epoch.
        this.refuse(ref.deviceId, 'batch_seq_reused', `batch ${ref.seq} of queue epoch "${ref.epoch}" was stored before with other samples`,
          { epoch: ref.epoch, seq: ref.seq });
        reject(ref, 'batch_seq_reused');
      }
      for (const { ref, reason } of outcome.refused) reject(ref, reason);
      if (this.handOff && !(await this.handedOff(confirmed, outcome))) acks.clear();
      if (this.listeners.length > 0 && outcome.stored.length > 0) notified = this.notifyStored(confirmed, outcome);
    }
    for (const key of new Set([...acks.keys(), ...rejections.keys()])) {
      const [deviceId, epoch] = key.split('\0') as [string, string];
      const payload = encodeBatchAck({ epoch, stored: acks.get(key) ?? [], rejected: rejections.get(key) ?? [] });
      this.publishToDevice(deviceId, controlTopic(deviceId, 'down', ControlKinds.ack), payload);
    }
    await notified;
  }

  /** Hands what the flush stored or found stored to `handOff`; false (logged, counted) when that failed. */
  private async handedOff(batches: IncomingBatch[], outcome: AppendResult): Promise<boolean> {
    const keep = new Set([...outcome.stored, ...outcome.duplicates].map((r) => `${r.deviceId}\0${r.epoch}\0${r.seq}`));
    // One flush can hold a batch and its redelivery: hand each over once.
    const handed = batches.filter((b) => keep.delete(`${b.deviceId}\0${b.epoch}\0${b.seq}`));
    if (handed.length === 0) return true;
    try {
      await this.handOff!(handed);
      return true;
    } catch (err) {
      this.stats_.handOffFailures += 1;
      this.logger.error({ err: errorMessage(err), batches: handed.length }, 'could not hand stored telemetry to the bus; it is stored but not acknowledged, and guardians will redeliver it');
      return false;
    }
  }

  /**
   * Passes the newly stored batches to each listener in turn. Synchronous listeners run before the
   * acknowledgements go out (as they always have); what they return is awaited after.
   */
  private notifyStored(batches: IncomingBatch[], outcome: AppendResult): Promise<void> | undefined {
    // One flush can hold a batch and its redelivery: pass on each newly stored batch exactly once.
    let fresh: IncomingBatch[] = batches;
    if (outcome.stored.length !== batches.length) {
      const stored = new Set(outcome.stored.map((r) => `${r.deviceId}\0${r.epoch}\0${r.seq}`));
      fresh = batches.filter((b) => stored.delete(`${b.deviceId}\0${b.epoch}\0${b.seq}`));
    }
    const failed = (err: unknown) => {
      this.logger.error({ err: errorMessage(err) }, 'evaluating stored telemetry failed; the data is stored and acknowledged');
    };
    const waits: Promise<void>[] = [];
    for (const listener of this.listeners) {
      try {
        const result = listener(fresh);
        if (result) waits.push(result.catch(failed));
      } catch (err) {
        failed(err);
      }
    }
    return waits.length > 0 ? Promise.all(waits).then(() => undefined) : undefined;
  }

  stats(): IngestStats {
    return {
      ...this.stats_, rejected: { ...this.stats_.rejected }, samplesRefused: { ...this.stats_.samplesRefused },
      clockSuspects: { ...this.stats_.clockSuspects },
    };
  }

  /** Stores and acknowledges what is pending, and waits for the incidents being written. */
  async close(): Promise<void> {
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush();
    await Promise.all([...this.incidentWrites]);
  }
}

/** A time for a log line; a value outside Date's range is shown as the number it is. */
function isoOrRaw(ts: number): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
}

function ackKey(deviceId: string, epoch: string): AckKey {
  return `${deviceId}\0${epoch}`;
}
