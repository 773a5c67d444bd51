/**
 * Every failure of the signal-tower output path is a `TowerError` with a stable code (STYLE.md §5)
 * and the facts to act on: which panel, which tower address.
 */
import { ShellguardError } from '@shellguard/protocol';

export type TowerErrorCode =
  /** A panel (or tower) that is not in the configured panel → tower list. Nothing was sent. */
  | 'tower_not_allowed'
  /** The panel → tower configuration itself is wrong (bad id, host or port, a duplicate). */
  | 'tower_config_invalid'
  /** The command is not a PNS operation control command or Andon state. Nothing was sent. */
  | 'tower_command_invalid'
  /** The tower answered NAK: it refused the frame. */
  | 'tower_nak'
  /** No connection or no answer within the timeout; the connection is dropped. */
  | 'tower_timeout'
  /** Connecting failed, or the connection failed or closed while a command was outstanding. */
  | 'tower_connection_failed'
  /** The tower answered something other than ACK or NAK, or spoke unasked; the connection is dropped. */
  | 'tower_response_invalid'
  /** `close()` was called. */
  | 'tower_client_closed';

export interface TowerErrorDetails {
  panel?: string;
  /** host:port of the tower. */
  tower?: string;
  [key: string]: unknown;
}

export class TowerError extends ShellguardError<TowerErrorCode> {
  declare readonly details: TowerErrorDetails;

  constructor(code: TowerErrorCode, message: string, details: TowerErrorDetails = {}) {
    super(code, message, details);
  }
}
