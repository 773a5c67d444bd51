/**
 * Every failure of the BACnet driver is a `BacnetError` with a stable code (STYLE.md §5), so the
 * driver marks the affected points bad and says why without catching anything else.
 */
import { ShellguardError } from '@shellguard/protocol';

export type BacnetErrorCode =
  /** A service outside the read-only allow-list (RP, RPM, SubscribeCOV, ReadRange, Who-Is, the client's acks). */
  | 'bacnet_service_refused'
  /** An allowed service with arguments outside ASHRAE 135 (instance range, invoke id, window size). */
  | 'bacnet_request_invalid'
  /** A response that is not well-formed BACnet/IP: short, bad tags, wrong service, trailing bytes. */
  | 'bacnet_response_invalid'
  /** The device answered with an Error PDU or a per-property error (unknown-object, unknown-property). */
  | 'bacnet_error'
  /** The device rejected the request (Reject-PDU, clause 18.8). */
  | 'bacnet_reject'
  /** The device or the client aborted the transaction (Abort-PDU, clause 18.9). */
  | 'bacnet_abort'
  /** No answer after every retry. */
  | 'bacnet_timeout'
  /** A segmented answer that breaks clause 5.4 or exceeds our bound. */
  | 'bacnet_segmentation_failed'
  /** The point's status-flags say fault: the device itself does not trust the value. */
  | 'bacnet_point_fault'
  /** The BBMD refused the foreign-device registration (BVLC-Result NAK). */
  | 'bacnet_registration_refused'
  /** No answer from the BBMD to the foreign-device registration. */
  | 'bacnet_registration_failed'
  /** The UDP socket could not be opened or failed. */
  | 'bacnet_socket_failed'
  /** `close()` was called. */
  | 'bacnet_client_closed';

export class BacnetError extends ShellguardError<BacnetErrorCode> {}

/** BACnetErrorClass (clause 21). */
export const ERROR_CLASSES: Readonly<Record<number, string>> = {
  0: 'device', 1: 'object', 2: 'property', 3: 'resources', 4: 'security', 5: 'services', 6: 'vt', 7: 'communication',
};

/** The BACnetErrorCode values a read-only client meets (clause 21). */
export const ERROR_CODES: Readonly<Record<number, string>> = {
  0: 'other', 2: 'configuration-in-progress', 3: 'device-busy', 5: 'dynamic-creation-not-supported', 9: 'invalid-data-type',
  25: 'operational-problem', 27: 'read-access-denied', 29: 'service-request-denied', 30: 'timeout', 31: 'unknown-object',
  32: 'unknown-property', 37: 'value-out-of-range', 40: 'write-access-denied', 42: 'invalid-array-index',
  45: 'optional-functionality-not-supported', 50: 'not-cov-property', 53: 'unsupported-object-type',
  123: 'not-configured',
};

/** BACnetRejectReason (clause 18.8). */
export const REJECT_REASONS: Readonly<Record<number, string>> = {
  0: 'other', 1: 'buffer-overflow', 2: 'inconsistent-parameters', 3: 'invalid-parameter-data-type', 4: 'invalid-tag',
  5: 'missing-required-parameter', 6: 'parameter-out-of-range', 7: 'too-many-arguments', 8: 'undefined-enumeration',
  9: 'unrecognized-service',
};

/** BACnetAbortReason (clause 18.9). */
export const ABORT_REASONS: Readonly<Record<number, string>> = {
  0: 'other', 1: 'buffer-overflow', 2: 'invalid-apdu-in-this-state', 3: 'preempted-by-higher-priority-task',
  4: 'segmentation-not-supported', 5: 'security-error', 6: 'insufficient-security', 7: 'window-size-out-of-range',
  8: 'application-exceeded-reply-time', 9: 'out-of-resources', 10: 'tsm-timeout', 11: 'apdu-too-long',
};

export function nameOf(table: Readonly<Record<number, string>>, n: number): string {
  return table[n] ?? `${n}`;
}
