/**
 * Ingest: what the broker accepted becomes stored telemetry (ARCHITECTURE.md §3).
 *
 * decode -> validate -> batch -> one transaction -> acknowledge. A batch is acknowledged to its
 * guardian only after the transaction that stored it has committed, and a batch seen before is
 * acknowledged again without being stored twice. Malformed messages are counted by reason and
 * logged (rate-limited); they never stop ingest.
 */
import type { Logger } from 'pino';
import {
  ControlKinds, ProtocolError, controlTopic, decodeDeviceBirth, decodeDeviceData, decodeNodeState, encodeBatchAck,
  errorMessage, parseSparkplugTopic, type AssetBirth,
} from '@shellguard/protocol';
import type { AppendResult, IncomingBatch } from '../telemetry/index.ts';

export type { IncomingBatch };

/** What ingest needs from storage: narrow on purpose, so any store can sit behind it. */
export interface IngestStorage {
  /**
   * Stores new batches in one transaction. Batches already stored earlier are reported as
   * duplicates and not stored again; both kinds are durable when this returns.
   */
  storeBatches(batches: IncomingBatch[]): AppendResult;
  recordAssetBirth(deviceId: string, site: string, birth: AssetBirth, now: number): void;
  recordDeviceOnline(deviceId: string, site: string, version: string, now: number): void;
  recordDeviceOffline(deviceId: string, now: number): void;
  recordDeviceSeen(deviceId: string, now: number): void;
  /**
   * The site a device is claimed into, if claims are in use: telemetry under any other site's
   * Sparkplug group is refused (least privilege: a device speaks only for its own site).
   */
  claimedSite?(deviceId: string): string | undefined;
}

export interface AckPublisher {
  (deviceId: string, topic: string, payload: Buffer): void;
}

export interface IngestOptions {
  storage: IngestStorage;
  publishToDevice: AckPublisher;
  logger: Logger;
  now?: () => number;
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
  samplesStored: number;
  storeFailures: number;
  rejected: Record<string, number>;
}

const LOG_BURST = 5;
const LOG_WINDOW_MS = 60_000;

export class Ingest {
  private readonly storage: IngestStorage;
  private readonly publishToDevice: AckPublisher;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly maxPendingSamples: number;
  private readonly flushIntervalMs: number;
  private readonly onStored: ((batches: readonly IncomingBatch[]) => void) | undefined;
  private pending: IncomingBatch[] = [];
  private pendingSamples = 0;
  private pendingRejections = new Map<string, { seq: number; reason: string }[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly logBudget = new Map<string, { windowStart: number; count: number }>();
  private readonly stats_: IngestStats = {
    messages: 0, batchesStored: 0, batchesDuplicate: 0, samplesStored: 0, storeFailures: 0, rejected: {},
  };

  constructor(opts: IngestOptions) {
    this.storage = opts.storage;
    this.publishToDevice = opts.publishToDevice;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.maxPendingSamples = opts.maxPendingSamples ?? 20_000;
    this.flushIntervalMs = opts.flushIntervalMs ?? 20;
    this.onStored = opts.onStored;
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
      this.refuse(deviceId, 'site_mismatch', `device is claimed into site ${claimed} but published under ${t.group}`);
      if (t.type === 'DDATA') this.rejectBatchOf(deviceId, payload, 'site_mismatch');
      return;
    }
    try {
      switch (t.type) {
        case 'DDATA': {
          const { seq, samples } = decodeDeviceData(payload);
          this.pending.push({ deviceId, site: t.group, asset: t.device!, seq, samples });
          this.pendingSamples += samples.length;
          this.scheduleFlush();
          break;
        }
        case 'DBIRTH':
          this.storage.recordAssetBirth(deviceId, t.group, decodeDeviceBirth(payload, t.device!), now);
          break;
        case 'NBIRTH':
          this.storage.recordDeviceOnline(deviceId, t.group, decodeNodeState(payload).version ?? 'unknown', now);
          break;
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
      const seq = err.details.seq;
      // The batch can never be stored: tell the guardian so it stops redelivering it.
      if (t.type === 'DDATA' && typeof seq === 'number') this.queueRejection(deviceId, seq, err.code);
    }
  }

  /** Tells the guardian a batch will never be stored, when its sequence can be read at all. */
  private rejectBatchOf(deviceId: string, payload: Buffer, reason: string): void {
    let seq: number | undefined;
    try {
      seq = decodeDeviceData(payload).seq;
    } catch (err) {
      if (err instanceof ProtocolError && typeof err.details.seq === 'number') seq = err.details.seq;
    }
    if (seq !== undefined) this.queueRejection(deviceId, seq, reason);
  }

  private queueRejection(deviceId: string, seq: number, reason: string): void {
    const list = this.pendingRejections.get(deviceId) ?? [];
    list.push({ seq, reason });
    this.pendingRejections.set(deviceId, list);
    this.scheduleFlush();
  }

  private refuse(deviceId: string, code: string, message: string): void {
    this.stats_.rejected[code] = (this.stats_.rejected[code] ?? 0) + 1;
    const now = this.now();
    const budget = this.logBudget.get(code);
    if (!budget || now - budget.windowStart > LOG_WINDOW_MS) {
      this.logBudget.set(code, { windowStart: now, count: 1 });
    } else if (++budget.count > LOG_BURST) {
      return;
    }
    this.logger.warn({ deviceId, code, reason: message, total: this.stats_.rejected[code] }, 'refused a malformed message');
  }

  private scheduleFlush(): void {
    if (this.pendingSamples >= this.maxPendingSamples) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.flushIntervalMs);
  }

  /** Writes everything pending in one transaction, then acknowledges. */
  flush(): void {
    const batches = this.pending;
    const rejections = this.pendingRejections;
    this.pending = [];
    this.pendingSamples = 0;
    this.pendingRejections = new Map();
    const acks = new Map<string, number[]>();
    if (batches.length > 0) {
      let outcome: AppendResult;
      try {
        outcome = this.storage.storeBatches(batches);
      } catch (err) {
        // Nothing is acknowledged, so guardians keep these batches and send them again.
        this.stats_.storeFailures += 1;
        this.logger.error({ err: errorMessage(err), batches: batches.length }, 'could not store telemetry; guardians will redeliver it');
        return;
      }
      this.stats_.batchesStored += outcome.stored.length;
      this.stats_.batchesDuplicate += outcome.duplicates.length;
      this.stats_.samplesStored += outcome.samplesStored;
      for (const { deviceId, seq } of [...outcome.stored, ...outcome.duplicates]) {
        let list = acks.get(deviceId);
        if (!list) acks.set(deviceId, (list = []));
        list.push(seq);
      }
      if (this.onStored && outcome.stored.length > 0) this.notifyStored(batches, outcome);
    }
    const devices = new Set([...acks.keys(), ...rejections.keys()]);
    for (const deviceId of devices) {
      const payload = encodeBatchAck({ stored: acks.get(deviceId) ?? [], rejected: rejections.get(deviceId) ?? [] });
      this.publishToDevice(deviceId, controlTopic(deviceId, 'down', ControlKinds.ack), payload);
    }
  }

  private notifyStored(batches: IncomingBatch[], outcome: AppendResult): void {
    // One flush can hold a batch and its redelivery: pass on each newly stored batch exactly once.
    let fresh: IncomingBatch[] = batches;
    if (outcome.duplicates.length > 0) {
      const stored = new Set(outcome.stored.map((r) => `${r.deviceId}/${r.seq}`));
      fresh = batches.filter((b) => stored.delete(`${b.deviceId}/${b.seq}`));
    }
    try {
      this.onStored!(fresh);
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, 'evaluating stored telemetry failed; the data is stored and acknowledged');
    }
  }

  stats(): IngestStats {
    return { ...this.stats_, rejected: { ...this.stats_.rejected } };
  }

  close(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flush();
  }
}
