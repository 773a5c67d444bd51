/**
 * The evidence capture's TelemetryWindowReader over the telemetry store's range reads
 * (`querySamples`, raw samples oldest first). A point the asset does not have is kept as an empty
 * series, so the evidence says it was asked for and nothing was there.
 */
import type { TelemetryStore } from '../telemetry/telemetry-store.ts';
import type { TelemetryWindowReader } from './incident-evidence.ts';

export interface TelemetryWindowReaderOptions {
  /** Samples kept per point (default 10,000: ten minutes at 10 Hz, far above any poll rate we ship). */
  maxSamplesPerPoint?: number;
}

export function telemetryWindowReader(
  store: Pick<TelemetryStore, 'pointsOf' | 'findPointId' | 'querySamples'>, options: TelemetryWindowReaderOptions = {},
): TelemetryWindowReader {
  const limit = options.maxSamplesPerPoint ?? 10_000;
  return async (site, asset, points, fromMs, toMs) => {
    const wanted = points
      ? points.map((point) => ({ point, id: store.findPointId(site, asset, point) }))
      : store.pointsOf(site, asset).map((p) => ({ point: p.point, id: p.id as number | undefined })).sort((a, b) => a.point.localeCompare(b.point));
    const out = [];
    for (const { point, id } of wanted) {
      const samples = id === undefined ? [] : await store.querySamples(id, fromMs, toMs, limit);
      out.push({ point, samples: samples.map((s) => ({ ts: s.ts, value: s.value })) });
    }
    return out;
  };
}
