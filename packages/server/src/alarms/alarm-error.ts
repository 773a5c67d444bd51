/**
 * Errors of the alarm domain: a stable code plus the facts needed to act on it (STYLE.md §5).
 * The API maps `alarm_not_found` to 404, `rule_invalid`/`shelve_*` to 400 and the state refusals
 * (`alarm_not_unacknowledged`, `alarm_not_active`, ...) to 409, and `alarm_standby` (a standby
 * replica) to 503.
 */
import { ShellguardError } from '@shellguard/protocol';

export type AlarmErrorCode =
  | 'rule_invalid'
  | 'rule_not_found'
  | 'alarm_not_found'
  | 'alarm_not_unacknowledged'
  | 'alarm_not_active'
  | 'alarm_already_shelved'
  | 'alarm_not_shelved'
  | 'alarm_already_out_of_service'
  | 'alarm_not_out_of_service'
  | 'shelve_duration_invalid'
  | 'shelve_too_long'
  | 'actor_required'
  | 'webhook_invalid'
  | 'asset_mode_invalid'
  | 'alarm_standby';

export class AlarmError extends ShellguardError<AlarmErrorCode> {}
