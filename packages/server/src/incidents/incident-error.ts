/**
 * Errors of the incidents domain: a stable code plus the facts needed to act on it (STYLE.md §5).
 * The API maps each code to an HTTP status in api/http-status/incidents.ts (a Record the compiler checks).
 */
import { ShellguardError } from '@shellguard/protocol';

export const INCIDENT_ERROR_CODES = [
  /** No incident with this id. */
  'incident_not_found',
  /** A raise, comment or assignment that is malformed (unknown severity, empty text, ...). */
  'incident_invalid',
  /** The status cannot move there from where it is (see INCIDENT_TRANSITIONS). */
  'incident_transition_invalid',
  /** The move needs a note (resolving, closing unresolved, reopening). */
  'incident_note_required',
  /** A closed incident is final: it cannot be reassigned. */
  'incident_closed',
] as const;
export type IncidentErrorCode = (typeof INCIDENT_ERROR_CODES)[number];

export class IncidentError extends ShellguardError<IncidentErrorCode> {}
