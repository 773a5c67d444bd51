import type { AlarmErrorCode } from '../../alarms/alarm-error.ts';

/** Unknown things 404, invalid requests 400, actions the alarm's state refuses 409 (ISA-18.2 state model). */
export const alarmHttpStatus: Record<AlarmErrorCode, number> = {
  alarm_not_found: 404,
  rule_not_found: 404,
  rule_invalid: 400,
  shelve_duration_invalid: 400,
  shelve_too_long: 400,
  asset_mode_invalid: 400,
  actor_required: 400,
  webhook_invalid: 400,
  alarm_not_unacknowledged: 409,
  alarm_not_active: 409,
  alarm_already_shelved: 409,
  alarm_not_shelved: 409,
  alarm_already_out_of_service: 409,
  alarm_not_out_of_service: 409,
  // A standby replica: the request belongs on the active one.
  alarm_standby: 503,
};
