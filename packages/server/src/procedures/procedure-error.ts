/**
 * Errors of the procedures domain (DMOP templates, work orders, panels): a stable code plus the
 * facts needed to act on it (STYLE.md §5). The API maps them through PROCEDURE_ERROR_STATUS, which
 * the compiler checks covers every code.
 */
import { ShellguardError } from '@shellguard/protocol';

export const PROCEDURE_ERROR_STATUS = {
  procedure_invalid: 400,
  procedure_not_found: 404,
  procedure_not_approved: 409,
  procedure_already_approved: 409,
  /** Two-person rule: the author of a version (or the creator of a work order) cannot approve it. */
  approval_by_author: 403,
  work_order_invalid: 400,
  work_order_not_found: 404,
  /** The work order's state does not allow this action (e.g. releasing a draft). */
  work_order_state: 409,
  /** A panel is already covered by another released work order in an overlapping window. */
  panel_busy: 409,
  /** The action is for another step than the current one (e.g. confirming an operate step). */
  step_mismatch: 409,
  role_required: 403,
  reason_required: 400,
  deviation_not_found: 404,
  alert_not_found: 404,
  site_stopped: 409,
  site_not_stopped: 409,
} as const;

export type ProcedureErrorCode = keyof typeof PROCEDURE_ERROR_STATUS;

export class ProcedureError extends ShellguardError<ProcedureErrorCode> {}
