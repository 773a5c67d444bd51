/**
 * Control-plane messages (JSON, small, versioned). Decoders validate every field: these bytes
 * come from the network and may be hostile.
 */
import { ProtocolError } from './errors.ts';
import { isValidQueueEpoch } from './telemetry.ts';

export interface BatchAck {
  v: 1;
  /**
   * The queue epoch the sequence numbers belong to. A guardian ignores an ack for another epoch
   * (e.g. one meant for the queue it had before a reinstall). Absent: the legacy epoch ''.
   */
  epoch?: string;
  /** Batch sequence numbers durably stored (now or earlier: redeliveries are acknowledged again). */
  stored: number[];
  /** Batches the server will never store (malformed); the guardian sets them aside, never resends. */
  rejected: { seq: number; reason: string }[];
}

/**
 * Why the server refused a batch for good (the `reason` of a rejected entry), beside the
 * ProtocolError codes of a batch that does not decode. One list shared by ingest, which sends
 * them, and the guardian, which keeps the batch aside and logs what to do.
 */
export const BatchRefusals = {
  /** The asset is bound to another guardian; an operator moves it (`shellguard asset move`). */
  asset_bound_elsewhere: 'the asset is bound to another guardian; an operator can move it with `shellguard asset move`',
  /** Published under a site other than the one the guardian is claimed into. */
  site_mismatch: 'published under a site other than the one this guardian is claimed into',
  /** A sample is stamped further ahead of the server clock than allowed: check the guardian clock (NTP). */
  sample_in_future: 'a sample is stamped in the future; check this guardian\'s clock (NTP)',
  /** A sample is older than the server keeps accepting. */
  sample_too_old: 'a sample is older than the server accepts (ingest.maxAgeDays)',
  /** The queue reused a sequence number for other samples (restored from an old copy). */
  batch_seq_reused: 'this queue reused a sequence number already stored with other samples (was the queue restored from a copy?); move the queue file aside so a new one starts',
  /** Storing it would create more points than the asset or the guardian may have. */
  point_quota_exceeded: 'storing it would exceed the points allowed per asset or per guardian (quotas in server.yaml)',
  /** The guardian already reports as many assets as it may. */
  asset_quota_exceeded: 'this guardian already reports as many assets as it may (quotas.maxAssetsPerDevice)',
} as const;
export type BatchRefusal = keyof typeof BatchRefusals;

const MAX_ACK_ENTRIES = 100_000;
const MAX_CONTROL_BYTES = 1 << 20;

function isSeq(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function encodeBatchAck(ack: Omit<BatchAck, 'v'>): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...(ack.epoch ? { epoch: ack.epoch } : {}), stored: ack.stored, rejected: ack.rejected }));
}

export function decodeBatchAck(bytes: Uint8Array): BatchAck {
  if (bytes.length > MAX_CONTROL_BYTES) {
    throw new ProtocolError('control_too_large', `control message of ${bytes.length} bytes exceeds ${MAX_CONTROL_BYTES}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ProtocolError('control_not_json', 'batch ack is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ProtocolError('control_invalid', 'batch ack must be an object');
  const o = parsed as Record<string, unknown>;
  if (o.v !== 1) throw new ProtocolError('control_version', `unsupported batch ack version ${String(o.v)}`);
  const { stored, rejected, epoch } = o;
  if (epoch !== undefined && (typeof epoch !== 'string' || !isValidQueueEpoch(epoch))) {
    throw new ProtocolError('control_invalid', 'batch ack "epoch" must be a queue epoch');
  }
  if (!Array.isArray(stored) || stored.length > MAX_ACK_ENTRIES || !stored.every(isSeq)) {
    throw new ProtocolError('control_invalid', 'batch ack "stored" must be an array of sequence numbers');
  }
  if (!Array.isArray(rejected) || rejected.length > MAX_ACK_ENTRIES) {
    throw new ProtocolError('control_invalid', 'batch ack "rejected" must be an array');
  }
  const rej: BatchAck['rejected'] = [];
  for (const r of rejected as unknown[]) {
    if (typeof r !== 'object' || r === null) throw new ProtocolError('control_invalid', 'rejected entry must be an object');
    const e = r as Record<string, unknown>;
    if (!isSeq(e.seq) || typeof e.reason !== 'string') {
      throw new ProtocolError('control_invalid', 'rejected entry needs a numeric seq and a string reason');
    }
    rej.push({ seq: e.seq, reason: e.reason.slice(0, 500) });
  }
  return { v: 1, ...(typeof epoch === 'string' ? { epoch } : {}), stored: stored as number[], rejected: rej };
}

/** A guardian's crash or error report (shellguard/v1/device/<id>/up/report). */
export interface DeviceReport {
  v: 1;
  kind: 'crash' | 'error';
  /** epoch ms on the device */
  at: number;
  /** One line: what happened. */
  message: string;
  /** Stack or context; never secrets. */
  detail: string;
}

export const MAX_REPORT_BYTES = 16 * 1024;

export function encodeDeviceReport(report: Omit<DeviceReport, 'v'>): Buffer {
  const body = { v: 1, kind: report.kind, at: report.at, message: report.message.slice(0, 500), detail: report.detail };
  let bytes = Buffer.from(JSON.stringify(body));
  if (bytes.length > MAX_REPORT_BYTES) {
    // Keep the report within bounds by cutting the detail, never by dropping the report.
    body.detail = body.detail.slice(0, Math.max(0, body.detail.length - (bytes.length - MAX_REPORT_BYTES) - 32)) + ' [truncated]';
    bytes = Buffer.from(JSON.stringify(body));
  }
  return bytes;
}

export function decodeDeviceReport(bytes: Uint8Array): DeviceReport {
  if (bytes.length > MAX_REPORT_BYTES) throw new ProtocolError('report_too_large', `report of ${bytes.length} bytes exceeds ${MAX_REPORT_BYTES}`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ProtocolError('control_not_json', 'device report is not valid JSON');
  }
  if (typeof o !== 'object' || o === null || o.v !== 1) throw new ProtocolError('control_version', 'device report must be an object with v: 1');
  if (o.kind !== 'crash' && o.kind !== 'error') throw new ProtocolError('control_invalid', 'device report kind must be crash or error');
  if (typeof o.at !== 'number' || !Number.isFinite(o.at) || typeof o.message !== 'string' || typeof o.detail !== 'string') {
    throw new ProtocolError('control_invalid', 'device report needs at (number), message and detail (strings)');
  }
  return { v: 1, kind: o.kind, at: o.at, message: o.message.slice(0, 500), detail: o.detail };
}
