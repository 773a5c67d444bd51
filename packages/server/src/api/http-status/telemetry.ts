import type { TelemetryErrorCode } from '../../telemetry/telemetry-error.ts';

/** Only a query can be the caller's fault; a damaged file, a failed worker or a closed store is the server's. */
export const telemetryHttpStatus: Record<TelemetryErrorCode, number> = {
  telemetry_bad_query: 400,
  telemetry_chunk_corrupt: 500,
  telemetry_log_corrupt: 500,
  telemetry_read_failed: 500,
  telemetry_closed: 500,
};
