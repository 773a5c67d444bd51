import type { MaintenanceErrorCode } from '../../analytics/maintenance/maintenance-book.ts';

/** Recommendations and work orders of the analytics domain (MaintenanceError). */
export const maintenanceHttpStatus: Record<MaintenanceErrorCode, number> = {
  recommendation_not_found: 404,
  work_order_not_found: 404,
  work_order_invalid: 400,
  recommendation_closed: 409,
};
