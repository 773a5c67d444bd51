import type { FleetErrorCode } from '../../fleet/fleet-error.ts';

/** Claims, groups and releases (FleetError). */
export const fleetHttpStatus: Record<FleetErrorCode, number> = {
  device_id_invalid: 400,
  invalid_input: 400,
  device_unclaimed: 404,
  group_unknown: 404,
  device_already_claimed: 409,
  device_revoked: 409,
  device_not_quarantined: 409,
  group_site_mismatch: 409,
  release_conflict: 409,
};
