/**
 * Every failure of the Redfish driver is a `RedfishError` with a stable code (STYLE.md §5), so the
 * driver marks the points it cost bad and says why without catching anything else. Messages name
 * the path and what to do; they never hold a password or a session token.
 */
import { ShellguardError } from '@shellguard/protocol';

export type RedfishErrorCode =
  /** A request outside the read-only allow-list (GET /redfish/v1/..., session login and logout). */
  | 'redfish_method_refused'
  /** The BMC's certificate is not the pinned one, or does not chain to the configured CA. */
  | 'redfish_tls_refused'
  /** Connecting failed, or the connection broke before the response was complete. */
  | 'redfish_connection_failed'
  /** No complete response within the request timeout. */
  | 'redfish_timeout'
  /** The BMC refused the credentials (401 after a fresh login), or the login answer was unusable. */
  | 'redfish_auth_failed'
  /** The BMC answered with an HTTP status other than 200 (404, 500, 503, ...). */
  | 'redfish_http_status'
  /** The response is larger than the client accepts. */
  | 'redfish_response_too_large'
  /** The response is not a JSON object: wrong content type, invalid or too deeply nested JSON. */
  | 'redfish_response_invalid'
  /** The property a point's JSON pointer names is not in the resource. */
  | 'redfish_property_missing'
  /** The property is there but holds no usable value (null, an object, an unknown enum string). */
  | 'redfish_value_invalid'
  /** A setting the client cannot work with (password file, CA file, pin). */
  | 'redfish_config_invalid'
  /** `close()` was called. */
  | 'redfish_client_closed';

export class RedfishError extends ShellguardError<RedfishErrorCode> {}
