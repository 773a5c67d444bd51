/**
 * Every failure of the SNMP driver and trap receiver is an `SnmpError` with a stable code
 * (STYLE.md §5): the driver turns them into bad-quality points, the receiver into counters.
 */
import { ShellguardError } from '@shellguard/protocol';

export type SnmpErrorCode =
  /** A PDU outside the read-only allow-list (GetRequest, GetNextRequest, GetBulkRequest) was about to be encoded. */
  | 'snmp_pdu_refused'
  /** A datagram reached the socket without passing the allow-list (a path around the guard). */
  | 'snmp_send_refused'
  /** No response within timeout x (retries + 1). */
  | 'snmp_timeout'
  /** The agent answered with an error-status (RFC 3416 §3: noSuchName, genErr, authorizationError...). */
  | 'snmp_error_status'
  /** The varbind is noSuchObject, noSuchInstance or endOfMibView (RFC 3416 §4.2.1). */
  | 'snmp_no_such_object'
  | 'snmp_no_such_instance'
  | 'snmp_end_of_mib_view'
  /** The value is not a number the point can hold (an OctetString where a Gauge32 belongs, a non-finite value). */
  | 'snmp_value_invalid'
  /** The response could not be decoded, or does not answer the request (wrong OIDs, wrong count, bad digest). */
  | 'snmp_response_invalid'
  /** USM refused us: unknown user, wrong digest, unsupported security level, not in time window (RFC 3414 §3.2). */
  | 'snmp_auth_failed'
  /** The socket failed (address in use, unreachable). */
  | 'snmp_socket_failed'
  /** A secret file is missing, unreadable or empty, or an option is unusable. */
  | 'snmp_config_invalid'
  /** `close()` was called. */
  | 'snmp_session_closed';

export class SnmpError extends ShellguardError<SnmpErrorCode> {}
