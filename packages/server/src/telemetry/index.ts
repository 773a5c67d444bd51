export type {
  TelemetryStore, IncomingBatch, BatchRef, AppendResult, StoredSample, LatestValue, SampleBucket, PointRef,
  PointAdmission, SeriesExport, StorageReport, SiteStorage, RetentionPolicy,
} from './telemetry-store.ts';
export {
  SqliteTelemetryStore, DEFAULT_RETENTION, type SqliteTelemetryStoreOptions, type MaintenanceOptions, type SealResult,
} from './sqlite-telemetry-store.ts';
export { TelemetryError, type TelemetryErrorCode } from './telemetry-error.ts';
export { encodeChunk, decodeChunk, summarize, type SampleColumns, type ChunkSummary } from './codec/chunk-codec.ts';
