import { ShellguardError } from '@shellguard/protocol';

/**
 * Errors raised by the simulator. Codes:
 * - `unknown_asset`: an asset id the site does not have, or of the wrong type for the action.
 * - `unsupported_fault`: a fault kind the asset type cannot develop.
 * - `invalid_option`: a site option out of range.
 * - `profile_missing`: the profile an asset type needs is not in the profile set.
 * - `port_unavailable`: an equipment server could not listen on its port for another reason than
 *   those of protocol's ListenError (port_in_use, port_not_permitted, address_not_available).
 */
export type SimErrorCode =
  | 'unknown_asset' | 'unsupported_fault' | 'invalid_option' | 'profile_missing' | 'port_unavailable'
  // Modbus exceptions the simulated equipment answers with (register-map.ts).
  | 'illegal_data_address' | 'server_device_failure';

export class SimError extends ShellguardError<SimErrorCode> {}
