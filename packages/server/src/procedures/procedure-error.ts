/**
 * Errors of the procedures domain (DMOP templates, work orders, panels): a stable code plus the
 * facts needed to act on it (STYLE.md §5). The API gives each code its HTTP status in
 * api/http-status/procedures.ts, which the compiler checks covers every code.
 */
import { ShellguardError } from '@shellguard/protocol';

export type ProcedureErrorCode =
  | 'procedure_invalid'
  | 'procedure_not_found'
  | 'procedure_not_approved'
  | 'procedure_already_approved'
  /** Two-person rule: the author of a version (or the creator of a work order) cannot approve it. */
  | 'approval_by_author'
  | 'work_order_invalid'
  | 'work_order_not_found'
  /** The work order's state does not allow this action (e.g. releasing a draft). */
  | 'work_order_state'
  /** A panel is already covered by another released work order in an overlapping window. */
  | 'panel_busy'
  /** The action is for another step than the current one (e.g. confirming an operate step). */
  | 'step_mismatch'
  | 'role_required'
  | 'reason_required'
  | 'deviation_not_found'
  | 'alert_not_found'
  | 'site_stopped'
  | 'site_not_stopped';

export class ProcedureError extends ShellguardError<ProcedureErrorCode> {}
