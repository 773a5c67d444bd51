export type {
  TelemetryStore, IncomingBatch, BatchRef, AppendResult, StoredSample, LatestValue, SampleBucket, PointRef,
  CompactionStepResult, PointAdmission,
} from './telemetry-store.ts';
export { SqliteTelemetryStore, type SqliteTelemetryStoreOptions, type MaintenanceOptions } from './sqlite-telemetry-store.ts';
export { TelemetryError, type TelemetryErrorCode } from './telemetry-error.ts';
export { encodeChunk, decodeChunk, type ChunkColumns } from './chunk-codec.ts';
