import type { ProcedureErrorCode } from '../../procedures/procedure-error.ts';

/** DMOP procedures, work orders and panels; the two-person rule and missing roles are 403. */
export const procedureHttpStatus: Record<ProcedureErrorCode, number> = {
  procedure_invalid: 400,
  procedure_not_found: 404,
  procedure_not_approved: 409,
  procedure_already_approved: 409,
  approval_by_author: 403,
  work_order_invalid: 400,
  work_order_not_found: 404,
  work_order_state: 409,
  panel_busy: 409,
  step_mismatch: 409,
  role_required: 403,
  reason_required: 400,
  deviation_not_found: 404,
  alert_not_found: 404,
  site_stopped: 409,
  site_not_stopped: 409,
};
