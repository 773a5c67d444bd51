import { ShellguardError } from '@shellguard/protocol';

export type TelemetryErrorCode =
  /** A query's range, limit or bucket width is not usable. */
  | 'telemetry_bad_query'
  /** A chunk blob could not be decoded: the database file is damaged or from an unknown version. */
  | 'telemetry_chunk_corrupt'
  /** The store was used after `close()`. */
  | 'telemetry_closed';

export class TelemetryError extends ShellguardError<TelemetryErrorCode> {}
