/**
 * Encoding and validating Sparkplug B payloads for Shellguard telemetry.
 *
 * Every DDATA carries one durable batch: its first metric `_shellguard/batch` (UInt64) is the
 * guardian's batch sequence number, which lets the server store each batch exactly once.
 * Metrics always carry their name (no aliases), so each message can be stored on its own after
 * any restart, without the server needing to have seen the births first.
 * Decoders treat bytes as hostile: anything that does not fit raises a ProtocolError.
 */
import { ProtocolError } from '../errors.ts';
import {
  MAX_SAMPLES_PER_BATCH, Quality, isValidQueueEpoch, type AssetBirth, type PointDefinition, type PointKind, type QualityCode, type Sample,
} from '../telemetry.ts';
import {
  DataType, PayloadType, type MetricMessage, type PayloadMessage, type PropertySetMessage,
} from './schema.ts';

export const BATCH_METRIC = '_shellguard/batch';
/** The queue epoch of the batch (String), right after the batch metric; in NBIRTH too. */
export const EPOCH_METRIC = '_shellguard/queue';
export const BDSEQ_METRIC = 'bdSeq';
const ASSET_PREFIX = '_shellguard/asset/';
const MAX_PAYLOAD_BYTES = 4 << 20;
const MAX_NAME_LENGTH = 256;

const KNOWN_QUALITIES: ReadonlySet<number> = new Set(Object.values(Quality));

function qualityProperties(quality: QualityCode): PropertySetMessage | undefined {
  if (quality === Quality.good) return undefined;
  return { keys: ['Quality'], values: [{ type: DataType.Int32, int_value: quality }] };
}

function sampleMetric(s: Sample): MetricMessage {
  const m: MetricMessage = { name: s.point, timestamp: s.ts };
  const props = qualityProperties(s.quality);
  if (props) m.properties = props;
  if (s.value === null) {
    m.datatype = DataType.Double;
    m.is_null = true;
  } else if (typeof s.value === 'boolean') {
    m.datatype = DataType.Boolean;
    m.boolean_value = s.value;
  } else {
    m.datatype = DataType.Double;
    m.double_value = s.value;
  }
  return m;
}

export interface EncodeOptions {
  /** Sparkplug message sequence, 0-255, per edge node (spec §7.2). */
  sparkplugSeq: number;
  /** Payload timestamp, epoch ms. */
  now: number;
}

export interface BatchIdentity {
  /** The guardian queue's epoch ('' for a queue from before epochs: then no metric is sent). */
  epoch: string;
  seq: number;
}

function requireEpoch(epoch: string): void {
  if (epoch !== '' && !isValidQueueEpoch(epoch)) {
    throw new ProtocolError('invalid_queue_epoch', 'a queue epoch is 1-64 characters of A-Z a-z 0-9 _ -', { epoch });
  }
}

/** DDATA for one batch of one asset. */
export function encodeDeviceData(batch: BatchIdentity, samples: readonly Sample[], opts: EncodeOptions): Uint8Array {
  const { seq, epoch } = batch;
  if (!Number.isSafeInteger(seq) || seq < 0) throw new ProtocolError('invalid_batch_seq', `batch sequence ${seq} is not a non-negative integer`);
  requireEpoch(epoch);
  if (samples.length > MAX_SAMPLES_PER_BATCH) {
    throw new ProtocolError('batch_too_large', `a batch holds at most ${MAX_SAMPLES_PER_BATCH} samples, got ${samples.length}`);
  }
  const head = epoch === '' ? 1 : 2;
  const metrics: MetricMessage[] = new Array(samples.length + head);
  metrics[0] = { name: BATCH_METRIC, timestamp: opts.now, datatype: DataType.UInt64, long_value: seq };
  if (head === 2) metrics[1] = stringMetric(EPOCH_METRIC, epoch, opts.now);
  for (let i = 0; i < samples.length; i++) metrics[i + head] = sampleMetric(samples[i]!);
  const payload: PayloadMessage = { timestamp: opts.now, seq: opts.sparkplugSeq & 0xff, metrics };
  return PayloadType.encode(payload).finish();
}

function decodePayload(bytes: Uint8Array): PayloadMessage {
  if (bytes.length > MAX_PAYLOAD_BYTES) {
    throw new ProtocolError('payload_too_large', `Sparkplug payload of ${bytes.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  }
  try {
    return PayloadType.decode(bytes) as unknown as PayloadMessage;
  } catch (err) {
    throw new ProtocolError('payload_undecodable', `not a Sparkplug B payload: ${(err as Error).message}`);
  }
}

function requireTimestamp(m: MetricMessage, index: number): number {
  const ts = m.timestamp;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts <= 0) {
    throw new ProtocolError('metric_timestamp', `metric ${index} has no valid timestamp`, { index });
  }
  return ts;
}

function requireName(m: MetricMessage, index: number): string {
  const name = m.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new ProtocolError('metric_name', `metric ${index} needs a name of 1-${MAX_NAME_LENGTH} characters (aliases are not used)`, { index });
  }
  return name;
}

function qualityOf(m: MetricMessage, index: number): QualityCode {
  const props = m.properties;
  if (!props) return Quality.good;
  const keys = props.keys ?? [];
  const at = keys.indexOf('Quality');
  if (at < 0) return Quality.good;
  const q = props.values?.[at]?.int_value;
  if (typeof q !== 'number' || !KNOWN_QUALITIES.has(q)) {
    throw new ProtocolError('metric_quality', `metric ${index} has an unknown Quality property`, { index });
  }
  return q as QualityCode;
}

/** Sparkplug stores signed integers as two's complement in uint32 (spec §6.4.16). */
function signed(value: number, bits: number): number {
  const shift = 32 - bits;
  return (value << shift) >> shift;
}

function metricValue(m: MetricMessage, index: number): number | boolean | null {
  if (m.is_null) return null;
  const v = (m as MetricMessage & { value?: string }).value;
  switch (m.datatype) {
    // A reading is a finite number: NaN and the infinities are refused (a failed read is null).
    case DataType.Double:
      if (v !== 'double_value' || !Number.isFinite(m.double_value)) break;
      return m.double_value!;
    case DataType.Float:
      if (v !== 'float_value' || !Number.isFinite(m.float_value)) break;
      return m.float_value!;
    case DataType.Boolean:
      if (v !== 'boolean_value') break;
      return m.boolean_value!;
    case DataType.Int8: case DataType.Int16: case DataType.Int32:
      if (v !== 'int_value') break;
      return signed(m.int_value!, m.datatype === DataType.Int8 ? 8 : m.datatype === DataType.Int16 ? 16 : 32);
    case DataType.UInt8: case DataType.UInt16: case DataType.UInt32:
      if (v !== 'int_value') break;
      return m.int_value! >>> 0;
    case DataType.Int64: case DataType.UInt64:
      if (v !== 'long_value') break;
      return m.long_value!;
    default:
      throw new ProtocolError('metric_datatype', `metric ${index} has unsupported datatype ${String(m.datatype)}`, { index });
  }
  throw new ProtocolError('metric_value', `metric ${index} value does not match its datatype ${String(m.datatype)}`, { index });
}

export interface DecodedDeviceData extends BatchIdentity {
  /** The payload's own timestamp: the guardian's clock when it published (epoch ms; 0 if absent). */
  sentAt: number;
  samples: Sample[];
}

/** Decodes and validates a Shellguard DDATA. */
export function decodeDeviceData(bytes: Uint8Array): DecodedDeviceData {
  const payload = decodePayload(bytes);
  const metrics = payload.metrics ?? [];
  if (metrics.length === 0) throw new ProtocolError('batch_missing', 'DDATA has no metrics');
  const first = metrics[0]!;
  const seq = first.long_value;
  if (first.name !== BATCH_METRIC || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new ProtocolError('batch_missing', `DDATA must start with a ${BATCH_METRIC} metric holding the batch sequence`);
  }
  let epoch = '';
  let head = 1;
  if (metrics[1]?.name === EPOCH_METRIC) {
    const e = metrics[1].string_value;
    if (typeof e !== 'string' || !isValidQueueEpoch(e)) {
      throw new ProtocolError('invalid_queue_epoch', `the ${EPOCH_METRIC} metric must hold 1-64 characters of A-Z a-z 0-9 _ -`, { seq });
    }
    epoch = e;
    head = 2;
  }
  if (metrics.length - head > MAX_SAMPLES_PER_BATCH) {
    throw new ProtocolError('batch_too_large', `DDATA carries ${metrics.length - head} samples, at most ${MAX_SAMPLES_PER_BATCH} allowed`, { seq, epoch });
  }
  const ts = payload.timestamp;
  const sentAt = typeof ts === 'number' && Number.isSafeInteger(ts) && ts > 0 ? ts : 0;
  const samples: Sample[] = new Array(metrics.length - head);
  try {
    for (let i = head; i < metrics.length; i++) {
      const m = metrics[i]!;
      samples[i - head] = {
        point: requireName(m, i),
        ts: requireTimestamp(m, i),
        value: metricValue(m, i),
        quality: qualityOf(m, i),
      };
    }
  } catch (err) {
    // The batch sequence is known: say which batch is bad, so the server can refuse it for good
    // instead of the guardian redelivering it forever.
    if (err instanceof ProtocolError) throw new ProtocolError(err.code, err.message, { ...err.details, seq, epoch });
    throw err;
  }
  return { epoch, seq, sentAt, samples };
}

function stringMetric(name: string, value: string, now: number): MetricMessage {
  return { name, timestamp: now, datatype: DataType.String, string_value: value };
}

const KIND_DATATYPE: Record<PointKind, number> = { analog: DataType.Double, binary: DataType.Boolean, enum: DataType.Int32 };

/** DBIRTH: the asset's identity and every point with its unit and kind (values are null until read). */
export function encodeDeviceBirth(birth: Omit<AssetBirth, 'asset'>, opts: EncodeOptions): Uint8Array {
  const metrics: MetricMessage[] = [
    stringMetric(`${ASSET_PREFIX}name`, birth.name, opts.now),
    stringMetric(`${ASSET_PREFIX}type`, birth.type, opts.now),
    stringMetric(`${ASSET_PREFIX}area`, birth.area, opts.now),
    stringMetric(`${ASSET_PREFIX}profile`, birth.profile, opts.now),
  ];
  for (const p of birth.points) {
    metrics.push({
      name: p.name,
      timestamp: opts.now,
      datatype: KIND_DATATYPE[p.kind],
      is_null: true,
      properties: {
        keys: ['engUnit', 'kind', 'description'],
        values: [
          { type: DataType.String, string_value: p.unit },
          { type: DataType.String, string_value: p.kind },
          { type: DataType.String, string_value: p.description },
        ],
      },
    });
  }
  return PayloadType.encode({ timestamp: opts.now, seq: opts.sparkplugSeq & 0xff, metrics }).finish();
}

const KINDS: ReadonlySet<string> = new Set(['analog', 'binary', 'enum']);

function stringProperty(props: PropertySetMessage | undefined, key: string): string | undefined {
  if (!props) return undefined;
  const at = (props.keys ?? []).indexOf(key);
  const v = at < 0 ? undefined : props.values?.[at]?.string_value;
  return typeof v === 'string' ? v.slice(0, MAX_NAME_LENGTH) : undefined;
}

export function decodeDeviceBirth(bytes: Uint8Array, asset: string): AssetBirth {
  const payload = decodePayload(bytes);
  const meta = new Map<string, string>();
  const points: PointDefinition[] = [];
  const metrics = payload.metrics ?? [];
  if (metrics.length > MAX_SAMPLES_PER_BATCH) throw new ProtocolError('birth_too_large', `DBIRTH declares ${metrics.length} metrics`);
  metrics.forEach((m, i) => {
    const name = requireName(m, i);
    if (name.startsWith(ASSET_PREFIX)) {
      if (typeof m.string_value === 'string') meta.set(name.slice(ASSET_PREFIX.length), m.string_value.slice(0, MAX_NAME_LENGTH));
      return;
    }
    const kind = stringProperty(m.properties, 'kind') ?? 'analog';
    if (!KINDS.has(kind)) throw new ProtocolError('birth_kind', `metric ${name} has unknown kind ${kind}`);
    points.push({
      name,
      unit: stringProperty(m.properties, 'engUnit') ?? '',
      kind: kind as PointKind,
      description: stringProperty(m.properties, 'description') ?? '',
    });
  });
  return {
    asset,
    name: meta.get('name') ?? asset,
    type: meta.get('type') ?? 'unknown',
    area: meta.get('area') ?? 'unassigned',
    profile: meta.get('profile') ?? 'unknown',
    points,
  };
}

/**
 * NBIRTH / NDEATH carry the birth-death sequence (spec §7.1) so a host can pair them. The birth
 * also announces the guardian's version and its queue epoch.
 */
export function encodeNodeBirth(bdSeq: number, version: string, opts: EncodeOptions & { queueEpoch?: string }): Uint8Array {
  const metrics: MetricMessage[] = [
    { name: BDSEQ_METRIC, timestamp: opts.now, datatype: DataType.UInt64, long_value: bdSeq },
    stringMetric('_shellguard/version', version, opts.now),
  ];
  if (opts.queueEpoch) {
    requireEpoch(opts.queueEpoch);
    metrics.push(stringMetric(EPOCH_METRIC, opts.queueEpoch, opts.now));
  }
  return PayloadType.encode({ timestamp: opts.now, seq: opts.sparkplugSeq & 0xff, metrics }).finish();
}

export function encodeNodeDeath(bdSeq: number, now: number): Uint8Array {
  return PayloadType.encode({
    timestamp: now,
    metrics: [{ name: BDSEQ_METRIC, timestamp: now, datatype: DataType.UInt64, long_value: bdSeq }],
  }).finish();
}

export interface NodeState {
  bdSeq: number;
  version?: string;
  queueEpoch?: string;
  /** The payload timestamp (the guardian's clock), epoch ms; 0 if absent. */
  sentAt: number;
}

export function decodeNodeState(bytes: Uint8Array): NodeState {
  const payload = decodePayload(bytes);
  const metrics = payload.metrics ?? [];
  const bd = metrics.find((m) => m.name === BDSEQ_METRIC);
  if (!bd || typeof bd.long_value !== 'number') throw new ProtocolError('bdseq_missing', 'node birth/death has no bdSeq metric');
  const version = metrics.find((m) => m.name === '_shellguard/version')?.string_value;
  const epoch = metrics.find((m) => m.name === EPOCH_METRIC)?.string_value;
  const ts = payload.timestamp;
  return {
    bdSeq: bd.long_value,
    sentAt: typeof ts === 'number' && Number.isSafeInteger(ts) && ts > 0 ? ts : 0,
    ...(typeof version === 'string' ? { version: version.slice(0, MAX_NAME_LENGTH) } : {}),
    ...(typeof epoch === 'string' && isValidQueueEpoch(epoch) ? { queueEpoch: epoch } : {}),
  };
}
