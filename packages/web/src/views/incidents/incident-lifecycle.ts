/**
 * The incident ticket's statuses as the server moves them (packages/server/src/incidents/
 * incident-status.ts INCIDENT_TRANSITIONS), so the view offers only the moves the server takes
 * and asks for a note where the server will: resolving, closing unresolved and reopening.
 */
import type { IncidentStatus } from '../../app/api-types.ts';
import type { Tone } from '../../app/components/badges.tsx';

export const INCIDENT_STATUSES = ['open', 'acknowledged', 'resolved', 'closed'] as const satisfies readonly IncidentStatus[];

export interface StatusMove {
  to: IncidentStatus;
  /** The button's words. */
  label: string;
  noteRequired: boolean;
  /** What the move means, in the dialog. */
  explanation: string;
}

export const INCIDENT_MOVES: Readonly<Record<IncidentStatus, readonly StatusMove[]>> = {
  open: [
    { to: 'acknowledged', label: 'Acknowledge', noteRequired: false, explanation: 'Says someone is looking into it.' },
    { to: 'resolved', label: 'Resolve', noteRequired: true, explanation: 'Says the cause is dealt with. Write what was found and done: it is what the next person reads.' },
    { to: 'closed', label: 'Close without resolving', noteRequired: true, explanation: 'For a duplicate or a false alarm: say which. Closing is final.' },
  ],
  acknowledged: [
    { to: 'resolved', label: 'Resolve', noteRequired: true, explanation: 'Says the cause is dealt with. Write what was found and done: it is what the next person reads.' },
    { to: 'closed', label: 'Close without resolving', noteRequired: true, explanation: 'For a duplicate or a false alarm: say which. Closing is final.' },
  ],
  resolved: [
    { to: 'closed', label: 'Close', noteRequired: false, explanation: 'Files the incident after checking the resolution. Closing is final.' },
    { to: 'open', label: 'Reopen', noteRequired: true, explanation: 'The fix did not hold: say what happened again.' },
  ],
  closed: [],
};

export const STATUS_TONE: Record<IncidentStatus, Tone> = { open: 'bad', acknowledged: 'warn', resolved: 'ok', closed: 'idle' };

export function parseIncidentStatus(value: string | null): IncidentStatus | null {
  return (INCIDENT_STATUSES as readonly string[]).includes(value ?? '') ? (value as IncidentStatus) : null;
}

export function capitalised(text: string): string {
  return text === '' ? text : text[0]!.toUpperCase() + text.slice(1);
}

/** The review view of one incident. */
export function incidentPath(id: number): string {
  return `/incidents/${id}`;
}

/** Kinds worth a filter button even before one has been seen: the DMOP security incidents first. */
export const KNOWN_INCIDENT_KINDS = ['panel.intrusion', 'procedure.deviation', 'attestation_failed', 'telemetry_refused'] as const;
