export type {
  TelemetryStore, IncomingBatch, BatchRef, AppendResult, StoredSample, LatestValue, SampleBucket, PointRef,
  PointAdmission, SeriesExport, StorageReport, SiteStorage, RetentionPolicy,
} from './telemetry-store.ts';
export {
  SqliteTelemetryStore, type SqliteTelemetryStoreOptions, type MaintenanceOptions, type SealResult,
} from './sqlite-telemetry-store.ts';
export {
  PostgresTelemetryStore, type PostgresTelemetryStoreOptions, type PostgresMaintenanceOptions, type CompactionResult,
} from './postgres-telemetry-store.ts';
export { openTelemetryStore, type TelemetryStoreOptions, type MaintainedTelemetryStore } from './open-telemetry-store.ts';
export { DEFAULT_RETENTION, type RetentionOptions } from './store-rules.ts';
export { TELEMETRY_MIGRATIONS } from './layout.ts';
export { TelemetryError, type TelemetryErrorCode } from './telemetry-error.ts';
export { encodeChunk, decodeChunk, summarize, type SampleColumns, type ChunkSummary } from './codec/chunk-codec.ts';
