import { ShellguardError } from '@shellguard/protocol';

export type BusErrorCode =
  /** A subject or subject filter is not valid NATS subject syntax. */
  | 'bus_bad_subject'
  /** The subject filters given to one `work` or `fanout` call overlap. */
  | 'bus_overlapping_subjects'
  /** An option is out of range (partitions, concurrency, delivery limits, …). */
  | 'bus_bad_option'
  /** The bus was used after `close()` (or after it was aborted). */
  | 'bus_closed'
  /**
   * A publish was not confirmed as stored (the server is unreachable or refused it). It may or may
   * not have been stored: publish again with the same id, and de-duplication keeps it once.
   */
  | 'bus_publish_failed'
  /** No stream of the bus holds this subject (JetStream): add it to a stream's subjects. */
  | 'bus_subject_unrouted'
  /** A filter covers subjects of more than one stream: split it into one filter per stream. */
  | 'bus_subject_spans_streams'
  /** The federation configuration is not usable (see the message for the field). */
  | 'bus_bad_federation';

export class BusError extends ShellguardError<BusErrorCode> {}
