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
 */
import type { Logger } from 'pino';
import {
  BatchRefusals, ControlKinds, ProtocolError, controlTopic, decodeDeviceBirth, decodeDeviceData, decodeNodeState,
  encodeBatchAck, errorMessage, parseSparkplugTopic, type AssetBirth, type BatchRefusal,
} from '@shellguard/protocol';
import {
  DEFAULT_DEVICE_QUOTAS, DEFAULT_INGEST_LIMITS, type DeviceQuotas, type IngestLimits,
} from '../config/config.ts';
import type { IncidentInput, IncidentLog } from '../incidents/incident-log.ts';
import type { AppendResult, BatchRef, IncomingBatch, PointAdmission } from '../telemetry/index.ts';
import { checkSampleTimes } from './sample-window.ts';

export type { IncomingBatch };

/** What ingest needs from storage and the registry: narrow on purpose, so any store can sit behind it. */
export interface IngestStorage {
  /**
   * Stores new batches in one transaction (see TelemetryStore.appendBatches): batches stored
   * earlier are duplicates, not stored again; all outcomes are durable when this returns.
   */
  storeBatches(batches: IncomingBatch[], admitPoints: PointAdmission): Promise<AppendResult>;
  /** Called only for an asset bound to `deviceId`. */
  recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now: number): void;
  recordDeviceOnline(deviceId: string, site: string, version: string, now: number): void;
  recordDeviceOffline(deviceId: string, now: number): void;
  recordDeviceSeen(deviceId: string, now: number): void;
  /** The guardian's clock minus the server's, as last measured (ms). */
  recordClockOffset?(deviceId: string, offsetMs: number, now: number): void;
  /**
   * The site a device is claimed into, if claims are in use: telemetry under any other site's
   * Sparkplug group is refused (least privilege: a device speaks only for its own site).
   */
  claimedSite?(deviceId: string): string | undefined;
  /** The guardian an asset is bound to, if any (memory: this is on every message). */
  assetOwner(site: string, asset: string): string | undefined;
  /** Binds an unbound asset to the guardian; false when another holds it already. */
  bindAsset(site: string, asset: string, deviceId: string, now: number): boolean;
  /** Assets bound to a guardian. */
  assetsOf(deviceId: string): readonly { site: string; asset: string }[];
  /** Points an asset has. */
  pointCount(site: string, asset: string): number;
}

export interface AckPublisher {
  (deviceId: string, topic: string, payload: Buffer): void;
}

export interface IngestOptions {
  storage: IngestStorage;
  publishToDevice: AckPublisher;
  logger: Logger;
  now?: () => number;
  /** Sample-time window and clock check (default DEFAULT_INGEST_LIMITS). */
  limits?: IngestLimits;
  /** Assets and points one guardian may have (default DEFAULT_DEVICE_QUOTAS). */
  quotas?: Pick<DeviceQuotas, 'maxPointsPerAsset' | 'maxPointsPerDevice' | 'maxAssetsPerDevice'>;
  /** Where security-relevant refusals become incidents (at most one per device, reason and asset an hour). */
  incidents?: Pick<IncidentLog, 'raise'>;
  /**
   * Called after a flush with the batches stored for the first time (not redeliveries), e.g. for
   * alarm evaluation. Runs after the acknowledgement is decided; a throw here is logged, never
   * un-stores anything.
   */
  onStored?: (batches: readonly IncomingBatch[]) => void;
  /** Flush when this many samples are waiting... */
  maxPendingSamples?: number;
  /** ...or this long after the first one arrived. */
  flushIntervalMs?: number;
}

export interface IngestStats {
  messages: number;
  batchesStored: number;
  batchesDuplicate: number;
  /** Batches whose (device, epoch, seq) was stored before with other samples: never stored. */
  batchesConflicting: number;
  samplesStored: number;
  storeFailures: number;
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

export class Ingest {
  private readonly storage: IngestStorage;
  private readonly publishToDevice: AckPublisher;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly limits: IngestLimits;
  private readonly quotas: NonNullable<IngestOptions['quotas']>;
  private readonly incidents: Pick<IncidentLog, 'raise'> | undefined;
  private readonly maxPendingSamples: number;
  private readonly flushIntervalMs: number;
  private readonly onStored: ((batches: readonly IncomingBatch[]) => void) | undefined;
  private readonly admitPoints: PointAdmission;
  private pending: IncomingBatch[] = [];
  private pendingSamples = 0;
  /** deviceId \0 epoch -> refused batches to report in the next ack. */
  private pendingRejections = new Map<AckKey, { seq: number; reason: string }[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** Flushes run one after another: each waits for the one before it to be stored and acknowledged. */
  private flushChain: Promise<void> = Promise.resolve();
  private readonly logBudget = new Map<string, { windowStart: number; count: number }>();
  private readonly incidentRaisedAt = new Map<string, number>();
  private readonly clockOffsets = new Map<string, number>();
  private readonly stats_: IngestStats = {
    messages: 0, batchesStored: 0, batchesDuplicate: 0, batchesConflicting: 0, samplesStored: 0, storeFailures: 0,
    rejected: {}, samplesRefused: { sample_in_future: 0, sample_too_old: 0 }, clockSuspects: {},
  };

  constructor(opts: IngestOptions) {
    this.storage = opts.storage;
    this.publishToDevice = opts.publishToDevice;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.limits = opts.limits ?? DEFAULT_INGEST_LIMITS;
    this.quotas = opts.quotas ?? DEFAULT_DEVICE_QUOTAS;
    this.incidents = opts.incidents;
    this.maxPendingSamples = opts.maxPendingSamples ?? 20_000;
    this.flushIntervalMs = opts.flushIntervalMs ?? 20;
    this.onStored = opts.onStored;
    this.admitPoints = (batch, newPoints, pointsOfAsset) => this.admitNewPoints(batch, newPoints, pointsOfAsset);
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
    const now = this.now();
    const claimed = this.storage.claimedSite?.(deviceId);
    if (claimed !== undefined && claimed !== t.group) {
      this.refuse(deviceId, 'site_mismatch', `device is claimed into site ${claimed} but published under ${t.group}`,
        { site: t.group, claimedSite: claimed, ...(t.device ? { asset: t.device } : {}) });
      if (t.type === 'DDATA') this.rejectBatchOf(deviceId, payload, 'site_mismatch');
      return;
    }
    try {
      switch (t.type) {
        case 'DDATA':
          this.acceptData(deviceId, t.group, t.device!, payload, now);
          break;
        case 'DBIRTH': {
          const birth = decodeDeviceBirth(payload, t.device!);
          if (this.holdAsset(deviceId, t.group, birth.asset, now) !== undefined) break;
          this.storage.recordAssetBirth(deviceId, t.group, birth, now);
          break;
        }
        case 'NBIRTH': {
          const state = decodeNodeState(payload);
          this.checkClock(deviceId, state.sentAt, now);
          this.storage.recordDeviceOnline(deviceId, t.group, state.version ?? 'unknown', now);
          break;
        }
        case 'NDEATH':
          decodeNodeState(payload);
          this.storage.recordDeviceOffline(deviceId, now);
          break;
        default:
          this.storage.recordDeviceSeen(deviceId, now);
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.refuse(deviceId, err.code, err.message);
      const { seq, epoch } = err.details;
      // The batch can never be stored: tell the guardian so it stops redelivering it.
      if (t.type === 'DDATA' && typeof seq === 'number') {
        this.queueRejection(deviceId, typeof epoch === 'string' ? epoch : '', seq, err.code);
      }
    }
  }

  private acceptData(deviceId: string, site: string, asset: string, payload: Buffer, now: number): void {
    const { epoch, seq, sentAt, samples } = decodeDeviceData(payload);
    this.checkClock(deviceId, sentAt, now);
    const held = this.holdAsset(deviceId, site, asset, now);
    if (held !== undefined) {
      this.queueRejection(deviceId, epoch, seq, held);
      return;
    }
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

  /**
   * Asset binding: an asset is bound to exactly one guardian. The first to report it holds it
   * (within its asset quota); anyone else is refused. Returns the refusal, or undefined.
   */
  private holdAsset(deviceId: string, site: string, asset: string, now: number): BatchRefusal | undefined {
    let owner = this.storage.assetOwner(site, asset);
    if (owner === undefined) {
      if (this.storage.assetsOf(deviceId).length >= this.quotas.maxAssetsPerDevice) {
        this.refuse(deviceId, 'asset_quota_exceeded', `guardian already reports ${this.quotas.maxAssetsPerDevice} assets; ${site}/${asset} refused`,
          { site, asset, limit: this.quotas.maxAssetsPerDevice });
        return 'asset_quota_exceeded';
      }
      if (this.storage.bindAsset(site, asset, deviceId, now)) {
        this.logger.info({ deviceId, site, asset }, 'asset bound to the guardian that first reported it');
        return undefined;
      }
      owner = this.storage.assetOwner(site, asset);
    }
    if (owner === deviceId) return undefined;
    this.refuse(deviceId, 'asset_bound_elsewhere', `asset ${site}/${asset} is bound to guardian ${owner ?? '?'}`,
      { site, asset, boundTo: owner ?? null });
    return 'asset_bound_elsewhere';
  }

  /** Quotas on new series, asked by the store inside the append (only when a batch would create points). */
  private admitNewPoints(batch: IncomingBatch, newPoints: number, pointsOfAsset: number): string | undefined {
    const { maxPointsPerAsset, maxPointsPerDevice } = this.quotas;
    let refusal: string | undefined;
    if (pointsOfAsset + newPoints > maxPointsPerAsset) {
      refusal = `asset ${batch.site}/${batch.asset} would have ${pointsOfAsset + newPoints} points (at most ${maxPointsPerAsset})`;
    } else {
      let total = newPoints;
      for (const a of this.storage.assetsOf(batch.deviceId)) total += this.storage.pointCount(a.site, a.asset);
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
      this.storage.recordClockOffset?.(deviceId, offset, now);
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
    const now = this.now();
    const severity = INCIDENT_SEVERITY[code as BatchRefusal];
    if (severity && this.incidents) {
      const key = `${code}\0${deviceId}\0${String(detail.site ?? '')}\0${String(detail.asset ?? '')}`;
      const last = this.incidentRaisedAt.get(key);
      if (last === undefined || now - last >= INCIDENT_WINDOW_MS) {
        this.incidentRaisedAt.set(key, now);
        try {
          this.incidents.raise({
            kind: 'telemetry_refused', severity, deviceId, reason: code,
            summary: `telemetry from ${deviceId} refused: ${message}`,
            detail: { ...detail, ...(code in BatchRefusals ? { action: BatchRefusals[code as BatchRefusal] } : {}) },
          });
        } catch (err) {
          this.logger.error({ err: errorMessage(err), code }, 'could not record an incident for refused telemetry');
        }
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

  private scheduleFlush(): void {
    if (this.pendingSamples >= this.maxPendingSamples) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      void this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.flushIntervalMs);
  }

  /**
   * Writes everything pending in one transaction, then acknowledges. What arrives meanwhile waits
   * for the next flush. Resolves once this flush's acknowledgements are sent; never rejects.
   */
  flush(): Promise<void> {
    const batches = this.pending;
    const rejections = this.pendingRejections;
    this.pending = [];
    this.pendingSamples = 0;
    this.pendingRejections = new Map();
    this.flushChain = this.flushChain.then(() => this.store(batches, rejections));
    return this.flushChain;
  }

  private async store(batches: IncomingBatch[], rejections: Map<AckKey, { seq: number; reason: string }[]>): Promise<void> {
    const acks = new Map<AckKey, number[]>();
    if (batches.length > 0) {
      let outcome: AppendResult;
      try {
        outcome = await this.storage.storeBatches(batches, this.admitPoints);
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
      const reject = (ref: BatchRef, reason: string) => {
        const key = ackKey(ref.deviceId, ref.epoch);
        const list = rejections.get(key) ?? [];
        list.push({ seq: ref.seq, reason });
        rejections.set(key, list);
      };
      for (const ref of outcome.conflicts) {
        // Never a silent duplicate: the sequence went backwards within this queue's epoch.
        this.refuse(ref.deviceId, 'batch_seq_reused', `batch ${ref.seq} of queue epoch "${ref.epoch}" was stored before with other samples`,
          { epoch: ref.epoch, seq: ref.seq });
        reject(ref, 'batch_seq_reused');
      }
      for (const { ref, reason } of outcome.refused) reject(ref, reason);
      if (this.onStored && outcome.stored.length > 0) this.notifyStored(batches, outcome);
    }
    for (const key of new Set([...acks.keys(), ...rejections.keys()])) {
      const [deviceId, epoch] = key.split('\0') as [string, string];
      const payload = encodeBatchAck({ epoch, stored: acks.get(key) ?? [], rejected: rejections.get(key) ?? [] });
      this.publishToDevice(deviceId, controlTopic(deviceId, 'down', ControlKinds.ack), payload);
    }
  }

  private notifyStored(batches: IncomingBatch[], outcome: AppendResult): void {
    // One flush can hold a batch and its redelivery: pass on each newly stored batch exactly once.
    let fresh: IncomingBatch[] = batches;
    if (outcome.stored.length !== batches.length) {
      const stored = new Set(outcome.stored.map((r) => `${r.deviceId}\0${r.epoch}\0${r.seq}`));
      fresh = batches.filter((b) => stored.delete(`${b.deviceId}\0${b.epoch}\0${b.seq}`));
    }
    try {
      this.onStored!(fresh);
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, 'evaluating stored telemetry failed; the data is stored and acknowledged');
    }
  }

  stats(): IngestStats {
    return {
      ...this.stats_, rejected: { ...this.stats_.rejected }, samplesRefused: { ...this.stats_.samplesRefused },
      clockSuspects: { ...this.stats_.clockSuspects },
    };
  }

  /** Stores and acknowledges what is pending. */
  close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    return this.flush();
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
