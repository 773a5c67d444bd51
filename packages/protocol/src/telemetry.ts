/**
 * The telemetry vocabulary shared by guardian and server.
 *
 * A *sample* is one reading of one point of one asset. A *batch* is what the guardian commits to
 * deliver as a unit: it carries a durable, per-guardian sequence number so that the server can
 * store every batch exactly once however often it is redelivered (ARCHITECTURE.md §3).
 */

/** OPC-style quality codes, as Sparkplug hosts (e.g. Ignition) read the `Quality` property. */
export const Quality = {
  good: 192,
  uncertain: 64,
  bad: 0,
} as const;
export type QualityCode = (typeof Quality)[keyof typeof Quality];

export interface Sample {
  /** Point name, unique within its asset (e.g. `supply_air_temp`). */
  point: string;
  /** Unix epoch milliseconds at which the guardian read the value. */
  ts: number;
  /** Engineering value; `null` when the read failed (quality then says why it is missing). */
  value: number | boolean | null;
  quality: QualityCode;
}

export interface TelemetryBatch {
  /**
   * The guardian queue this batch came from: a random id created with the queue. A reinstalled
   * guardian (same identity key, new queue) starts a new epoch, so its sequence numbers restarting
   * at 1 are new batches, not redeliveries. Empty for queues made before epochs existed.
   */
  epoch: string;
  /** Durable sequence number within the epoch, strictly increasing, never reused. */
  seq: number;
  /** Asset (Sparkplug device) the samples belong to. */
  asset: string;
  samples: Sample[];
}

export type PointKind = 'analog' | 'binary' | 'enum';

/** What an asset declares about itself when it comes online (Sparkplug DBIRTH). */
export interface AssetBirth {
  asset: string;
  name: string;
  type: string;
  area: string;
  profile: string;
  points: PointDefinition[];
}

export interface PointDefinition {
  name: string;
  unit: string;
  kind: PointKind;
  description: string;
}

/** A queue epoch: 1-64 characters of base64url (the guardian makes 22, from 16 random bytes). */
const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidQueueEpoch(epoch: string): boolean {
  return EPOCH_PATTERN.test(epoch);
}

/** Upper bound on samples in one batch, enforced on both sides (bounded memory per message). */
export const MAX_SAMPLES_PER_BATCH = 10_000;
