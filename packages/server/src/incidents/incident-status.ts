/**
 * The life of an incident ticket: open → acknowledged (someone is on it) → resolved (the cause is
 * dealt with) → closed (checked and filed), with reopen from resolved when the fix did not hold.
 * Closed is final: a recurrence is a new incident, so each one keeps its own lesson.
 *
 * A note is required where the move is a claim someone should be able to check later: what the
 * resolution was, why a ticket is closed without being resolved (duplicate, false positive), and
 * why a resolved one is reopened.
 */
import { IncidentError } from './incident-error.ts';

export const INCIDENT_STATUSES = ['open', 'acknowledged', 'resolved', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export interface IncidentTransition {
  to: IncidentStatus;
  noteRequired: boolean;
}

export const INCIDENT_TRANSITIONS: Readonly<Record<IncidentStatus, readonly IncidentTransition[]>> = {
  open: [{ to: 'acknowledged', noteRequired: false }, { to: 'resolved', noteRequired: true }, { to: 'closed', noteRequired: true }],
  acknowledged: [{ to: 'resolved', noteRequired: true }, { to: 'closed', noteRequired: true }],
  resolved: [{ to: 'closed', noteRequired: false }, { to: 'open', noteRequired: true }],
  closed: [],
};

export function isIncidentStatus(value: string): value is IncidentStatus {
  return (INCIDENT_STATUSES as readonly string[]).includes(value);
}

/** The transition from `from` to `to`, or an IncidentError saying which moves there are. */
export function checkTransition(incidentId: number, from: IncidentStatus, to: IncidentStatus, note: string | undefined): IncidentTransition {
  const allowed = INCIDENT_TRANSITIONS[from];
  const transition = allowed.find((t) => t.to === to);
  if (!transition) {
    const options = allowed.map((t) => t.to);
    throw new IncidentError('incident_transition_invalid',
      from === 'closed'
        ? `incident ${incidentId} is closed: raise a new incident if it happened again`
        : `incident ${incidentId} is ${from}: it can move to ${options.join(' or ')}, not to ${to}`,
      { incidentId, from, to, allowed: options });
  }
  if (transition.noteRequired && (note === undefined || note.trim() === '')) {
    throw new IncidentError('incident_note_required', `moving incident ${incidentId} from ${from} to ${to} needs a note (what was done, or why)`,
      { incidentId, from, to });
  }
  return transition;
}
