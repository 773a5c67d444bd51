import type { IncidentErrorCode } from '../../incidents/incident-error.ts';

export const incidentHttpStatus: Record<IncidentErrorCode, number> = {
  incident_not_found: 404,
  incident_invalid: 400,
  incident_transition_invalid: 409,
  incident_note_required: 400,
  incident_closed: 409,
};
