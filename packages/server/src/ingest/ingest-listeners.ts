/**
 * What ingest tells the rest of the server, registered by the composition root: each consumer
 * (panel supervisor, alarms, live analytics, live views) listens with a one-line adapter.
 */
import type { AssetBirth, Sample } from '@shellguard/protocol';
import type { IncomingBatch } from '../telemetry/telemetry-store.ts';

/**
 * Batches stored for the first time by one flush (never redeliveries), in the order they were
 * accepted. Listeners run in the order registered, after the batches are durable; a throw or a
 * rejection is logged and never un-stores anything. A returned promise is awaited before the next
 * flush's batches are passed on, so each listener sees flushes in order.
 */
export type StoredBatchListener = (batches: readonly IncomingBatch[]) => void | Promise<void>;

/** An asset birth recorded for the guardian that holds the asset. */
export interface BornAsset {
  deviceId: string;
  site: string;
  birth: AssetBirth;
  at: number;
}

export type AssetBirthListener = (born: BornAsset) => void;

/** A listener that handles one batch (one asset's samples) at a time. */
export function eachBatch(onBatch: (site: string, asset: string, samples: readonly Sample[]) => void): StoredBatchListener {
  return (batches) => {
    for (const b of batches) onBatch(b.site, b.asset, b.samples);
  };
}

/** A listener that handles one sample at a time, in order. */
export function eachSample(onSample: (site: string, asset: string, sample: Sample) => void): StoredBatchListener {
  return (batches) => {
    for (const b of batches) for (const s of b.samples) onSample(b.site, b.asset, s);
  };
}
