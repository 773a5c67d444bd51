/**
 * The transactional outbox hook: what an incident change announces, enqueued inside the same
 * database transaction as the change, so a notification is sent if and only if the change committed.
 * Delivery, retries and fan-out belong to the outbox's owner (notifications/), not to incidents.
 *
 * `IncidentOutbox` is the notifications' `OutboxWriter` (notifications/outbox.ts), and the
 * payload is their `IncidentNotice`: the compiler holds the two sides to one contract.
 *
 * Which new incidents are announced: those raised with `notify: true`, and by default the high
 * and critical ones. Announcing every incident would page people for each low-severity refusal
 * (ingest raises one per device and reason every few minutes); announcing none by default would
 * leave a refused attestation (signature_invalid, nonce_replayed: someone may be impersonating a
 * guardian) unheard until someone opens the dashboard. Every status or assignee change of any
 * incident is announced: a person acted on it, so it is now a ticket someone follows, and the
 * payload carries the whole incident, so a reader needs no earlier message.
 */
import type { OutboxEntry, OutboxWriter } from '../notifications/outbox.ts';
import type { IncidentNotice } from '../notifications/webhook-formats.ts';
import type { Incident, IncidentInput } from './incident-log.ts';

export type IncidentOutbox = OutboxWriter;
export type IncidentOutboxEntry = OutboxEntry;

export const INCIDENT_OPENED_TOPIC = 'incident.opened';
export const INCIDENT_UPDATED_TOPIC = 'incident.updated';

export function isAnnounced(input: Pick<IncidentInput, 'notify' | 'severity'>): boolean {
  return input.notify ?? (input.severity === 'high' || input.severity === 'critical');
}

/** Where a person opens an incident, e.g. `(id) => \`https://sg.example/incidents/${id}\``. */
export type IncidentUrl = (incidentId: number) => string;

/** What a notification may show: no `detail`, which can hold device evidence and names. */
function noticeOf(i: Incident, url: IncidentUrl | undefined): IncidentNotice {
  return {
    id: i.id, kind: i.kind, severity: i.severity, status: i.status, summary: i.summary, openedAt: i.openedAt,
    ...(i.site !== undefined ? { site: i.site } : {}),
    ...(i.asset !== undefined ? { asset: i.asset } : {}),
    ...(i.assignee !== undefined ? { assignee: i.assignee } : {}),
    ...(url ? { url: url(i.id) } : {}),
  };
}

export function openedEntry(incident: Incident, url?: IncidentUrl): IncidentOutboxEntry {
  return { topic: INCIDENT_OPENED_TOPIC, idempotencyKey: `incident:${incident.id}:opened`, payload: { incident: noticeOf(incident, url) } };
}

/** `rev` is the incident's revision after the change (1 for the first status or assignee change). */
export function updatedEntry(incident: Incident, rev: number, url?: IncidentUrl): IncidentOutboxEntry {
  return { topic: INCIDENT_UPDATED_TOPIC, idempotencyKey: `incident:${incident.id}:rev:${rev}`, payload: { incident: noticeOf(incident, url) } };
}
