import { ShellguardError } from '@shellguard/protocol';

export type TelemetryErrorCode =
  /** A query's range, limit or bucket width is not usable. */
  | 'telemetry_bad_query'
  /** A chunk blob could not be decoded: the database file is damaged or from an unknown version. */
  | 'telemetry_chunk_corrupt'
  /** A sample log record could not be decoded: the database file is damaged. */
  | 'telemetry_log_corrupt'
  /** A read worker failed or exited while answering (the read can be retried). */
  | 'telemetry_read_failed'
  /** The store was used after `close()`. */
  | 'telemetry_closed';

export class TelemetryError extends ShellguardError<TelemetryErrorCode> {}
