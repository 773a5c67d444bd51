/** The telemetry store of whichever engine holds the server's database (the composition root's one call). */
import type { SqlDatabase } from '../db/sql-database.ts';
import { PostgresTelemetryStore, type PostgresMaintenanceOptions, type PostgresTelemetryStoreOptions } from './postgres-telemetry-store.ts';
import { SqliteTelemetryStore, type MaintenanceOptions, type SqliteTelemetryStoreOptions } from './sqlite-telemetry-store.ts';
import type { TelemetryStore } from './telemetry-store.ts';

/** What the server sets on either store; engine-specific settings are ignored by the other engine. */
export type TelemetryStoreOptions = SqliteTelemetryStoreOptions & PostgresTelemetryStoreOptions;

/** A store with its background work (sealing or compaction, retention, flushes) to start and stop. */
export interface MaintainedTelemetryStore extends TelemetryStore {
  startMaintenance(options?: MaintenanceOptions & PostgresMaintenanceOptions): void;
  stopMaintenance(): void;
}

export async function openTelemetryStore(database: SqlDatabase, options: TelemetryStoreOptions = {}): Promise<MaintainedTelemetryStore> {
  if (database.engine === 'postgres') {
    const { readWorkers: _r, spillAfterMs: _s, sealSamples: _n, sealSpanMs: _p, afterChunkWritten: _a, ...pg } = options;
    return PostgresTelemetryStore.open(database, pg);
  }
  const { windowMs: _w, windowGraceMs: _g, windowsAhead: _h, afterSliceWritten: _a, ...lite } = options;
  return new SqliteTelemetryStore(database, lite);
}
