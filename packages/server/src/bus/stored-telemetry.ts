/**
 * What ingest hands to the bus in scale-out mode (issue 12), and how it is read back: each batch
 * a replica stored (or found stored: a redelivery), and each asset birth it recorded, on the
 * partition of its asset, so one asset's messages stay in order for the replica that evaluates.
 *
 * Ids are stable per logical event, so a redelivered batch handed over again is the same message:
 * `batch:<device>:<epoch>:<seq>` (the store's own identity of a batch). The alarm engine records
 * the ids it evaluated in the same transaction as the alarms they changed.
 */
import type { AssetBirth, Sample } from '@shellguard/protocol';
import type { IncomingBatch } from '../telemetry/telemetry-store.ts';
import type { JetStreamBusStream, JetStreamDeadLetters } from './jetstream-bus.ts';
import { partitionSubject, partitionSubjects } from './subjects.ts';

export type StoredTelemetryMessage =
  | { readonly kind: 'batch'; readonly batch: IncomingBatch }
  | { readonly kind: 'birth'; readonly deviceId: string; readonly site: string; readonly birth: AssetBirth; readonly at: number };

/** The subjects and streams of one server's (one site's) bus, from `bus.stream` and `bus.partitions`. */
export interface StoredTelemetryLayout {
  readonly partitions: number;
  /** `<prefix>.stored`: partitions are `<prefix>.stored.p<n>`. */
  readonly base: string;
  readonly stream: JetStreamBusStream;
  readonly deadLetters: JetStreamDeadLetters;
  /** The work group of the replica that evaluates. */
  readonly evaluateGroup: string;
}

export function storedTelemetryLayout(prefix: string, partitions: number): StoredTelemetryLayout {
  const token = prefix.toLowerCase();
  const base = `${token}.stored`;
  return {
    partitions, base,
    stream: { name: `${prefix}_STORED_TELEMETRY`, subjects: [`${base}.>`] },
    deadLetters: { stream: `${prefix}_DEAD_LETTERS`, subjectPrefix: `${token}-dead-letter` },
    evaluateGroup: `${prefix}-evaluate`,
  };
}

export function evaluateSubjects(layout: StoredTelemetryLayout): string[] {
  return partitionSubjects(layout.base, layout.partitions);
}

export function subjectOf(layout: StoredTelemetryLayout, site: string, asset: string): string {
  return partitionSubject(layout.base, `${site}\0${asset}`, layout.partitions);
}

export function batchMessageId(b: { deviceId: string; epoch: string; seq: number }): string {
  return `batch:${b.deviceId}:${b.epoch}:${b.seq}`;
}

export function birthMessageId(deviceId: string, site: string, asset: string, at: number): string {
  return `birth:${deviceId}:${site}:${asset}:${at}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeStoredTelemetry(message: StoredTelemetryMessage): Uint8Array {
  return encoder.encode(JSON.stringify({ v: 1, ...message }));
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function isSample(v: unknown): v is Sample {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return isString(s.point) && typeof s.ts === 'number' && Number.isFinite(s.ts)
    && (s.value === null || typeof s.value === 'boolean' || (typeof s.value === 'number' && Number.isFinite(s.value)))
    && typeof s.quality === 'number';
}

/** Reads a message back; throws (the bus dead-letters it after its tries) on anything else. */
export function decodeStoredTelemetry(payload: Uint8Array): StoredTelemetryMessage {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(payload));
  } catch {
    throw new Error('a stored-telemetry bus message that is not JSON');
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  // JSON-quoted, so a version "1" (a string) does not read as the 1 this server expects.
  if (o.v !== 1) throw new Error(`a stored-telemetry bus message of version ${JSON.stringify(o.v) ?? 'none'}; this server reads version 1`);
  if (o.kind === 'batch') {
    const b = (o.batch ?? {}) as Record<string, unknown>;
    if (isString(b.deviceId) && isString(b.site) && isString(b.asset) && isString(b.epoch) && Number.isSafeInteger(b.seq)
      && Array.isArray(b.samples) && b.samples.every(isSample)) {
      return { kind: 'batch', batch: b as unknown as IncomingBatch };
    }
    throw new Error('a stored-telemetry batch message without device, site, asset, epoch, seq and valid samples');
  }
  if (o.kind === 'birth') {
    const birth = o.birth as Record<string, unknown> | undefined;
    if (isString(o.deviceId) && isString(o.site) && typeof o.at === 'number' && birth && isString(birth.asset) && isString(birth.profile)) {
      return { kind: 'birth', deviceId: o.deviceId, site: o.site, birth: birth as unknown as AssetBirth, at: o.at };
    }
    throw new Error('a stored-telemetry birth message without device, site, time and asset birth');
  }
  throw new Error(`a stored-telemetry bus message of unknown kind ${String(o.kind)}`);
}
