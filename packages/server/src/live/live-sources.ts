/**
 * How the domains feed the event hub: small adapters the composition root (server.ts) wires,
 * so no domain knows the hub and the hub knows no domain's internals.
 */
import type { IncomingBatch } from '../telemetry/telemetry-store.ts';
import type { EventHub, LiveHealth } from './event-hub.ts';

/**
 * The ingest's `onStored` side: marks the stored points someone watches as changed. Cheap when
 * nobody watches a point (one check per batch); otherwise one map lookup per sample.
 */
export function watchStoredSamples(
  hub: Pick<EventHub, 'watchesAnyPoint' | 'watches' | 'pointChanged'>,
  findPointId: (site: string, asset: string, point: string) => number | undefined,
): (batches: readonly IncomingBatch[]) => void {
  return (batches) => {
    if (!hub.watchesAnyPoint) return;
    for (const b of batches) {
      let last: string | undefined;
      for (const sample of b.samples) {
        // Samples of one point often come in runs: look each run up once.
        if (sample.point === last) continue;
        last = sample.point;
        const id = findPointId(b.site, b.asset, sample.point);
        if (id !== undefined && hub.watches(id)) hub.pointChanged(id);
      }
    }
  };
}

export interface HealthInputs {
  /** The ingest counters (`samplesStored` gives the rate). */
  ingest: () => { samplesStored: number } & object;
  connectedDevices: () => number;
  /** Current alarms (retired ones left out), as the alarm list gives them. */
  alarms: () => readonly { active: boolean; acknowledged: boolean }[];
  now: () => number;
}

/**
 * The `health` snapshot. `pointsPerSecond` is the rate of stored samples since the previous
 * snapshot (0 in the first one: the inputs are read only when a stream wants health).
 */
export function liveHealth(inputs: HealthInputs): () => LiveHealth {
  let lastAt = inputs.now();
  let lastStored: number | undefined;
  return () => {
    const time = inputs.now();
    const ingest = inputs.ingest();
    const stored = ingest.samplesStored;
    const seconds = (time - lastAt) / 1000;
    const pointsPerSecond = lastStored !== undefined && seconds > 0 ? Math.max(0, (stored - lastStored) / seconds) : 0;
    lastAt = time;
    lastStored = stored;
    let activeAlarms = 0;
    let unackAlarms = 0;
    for (const a of inputs.alarms()) {
      if (a.active) activeAlarms++;
      if (!a.acknowledged) unackAlarms++;
    }
    return {
      time, ingest: { ...ingest }, pointsPerSecond: Math.round(pointsPerSecond * 10) / 10,
      connectedDevices: inputs.connectedDevices(), activeAlarms, unackAlarms,
    };
  };
}
