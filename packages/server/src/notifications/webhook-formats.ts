/**
 * The bodies endpoints receive. `generic` is our own envelope for any receiver; `pagerduty` is the
 * PagerDuty Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/),
 * which many incident tools accept as well. A body is rendered at each attempt from the stored
 * entry, so the signed `timestamp` is fresh and a corrected endpoint setting applies to retries.
 */
import type { NotificationEndpoint } from './notification-endpoint.ts';
import { NotificationError } from './notification-error.ts';

export const WEBHOOK_FORMATS = ['generic', 'pagerduty'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** The payload of every `incident.*` entry: `{ incident: IncidentNotice }`. */
export interface IncidentNotice {
  id: number;
  kind: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  status: string;
  summary: string;
  /** Epoch ms. */
  openedAt: number;
  site?: string;
  asset?: string;
  assignee?: string;
  /** Where a person opens the incident (the dashboard). */
  url?: string;
}

/** One entry as a body is made from it. */
export interface WebhookEvent {
  topic: string;
  idempotencyKey: string;
  payload: Record<string, unknown>;
  /** When the entry was enqueued, i.e. when its transaction ran (epoch ms). */
  enqueuedAt: number;
}

const isIncidentTopic = (topic: string): boolean => topic === 'incident' || topic.startsWith('incident.');

/** PagerDuty events describe incidents only; other topics go to generic endpoints. */
export function formatAccepts(format: WebhookFormat, topic: string): boolean {
  return format === 'generic' || isIncidentTopic(topic);
}

/**
 * `{ id, type, occurredAt, timestamp, data }`. `timestamp` (epoch ms of this attempt) is the one
 * the signature headers carry: `verifyWebhookSignature` (alarms/webhook-notifier.ts) checks that
 * they agree, so a receiver can refuse a replayed body.
 */
function genericBody(event: WebhookEvent, sentAt: number): Record<string, unknown> {
  return {
    id: event.idempotencyKey,
    type: event.topic,
    occurredAt: new Date(event.enqueuedAt).toISOString(),
    timestamp: sentAt,
    data: event.payload,
  };
}

const SEVERITIES: Record<IncidentNotice['severity'], 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical', high: 'error', medium: 'warning', low: 'info',
};
const EVENT_ACTIONS: Record<string, 'trigger' | 'acknowledge' | 'resolve'> = {
  open: 'trigger', acknowledged: 'acknowledge', resolved: 'resolve', closed: 'resolve',
};
/** Events API v2: `payload.summary` is cut at 1024 characters. */
const PAGERDUTY_SUMMARY_MAX = 1024;

function invalid(event: WebhookEvent, problem: string): never {
  throw new NotificationError('payload_invalid', `${event.topic} ${event.idempotencyKey}: ${problem}`, { topic: event.topic, idempotencyKey: event.idempotencyKey });
}

/** Reads `payload.incident`, refusing what a PagerDuty event could not be made from. */
export function readIncident(event: WebhookEvent): IncidentNotice {
  const i = event.payload.incident as Record<string, unknown> | undefined;
  if (typeof i !== 'object' || i === null) invalid(event, 'payload.incident is missing');
  if (typeof i.id !== 'number' || !Number.isSafeInteger(i.id)) invalid(event, 'incident.id must be a whole number');
  for (const k of ['kind', 'status', 'summary'] as const) if (typeof i[k] !== 'string' || i[k] === '') invalid(event, `incident.${k} must be a non-empty string`);
  if (typeof i.severity !== 'string' || !Object.hasOwn(SEVERITIES, i.severity)) invalid(event, 'incident.severity must be low, medium, high or critical');
  if (typeof i.openedAt !== 'number' || !Number.isFinite(i.openedAt)) invalid(event, 'incident.openedAt must be epoch milliseconds');
  for (const k of ['site', 'asset', 'assignee', 'url'] as const) if (i[k] !== undefined && typeof i[k] !== 'string') invalid(event, `incident.${k} must be a string`);
  return i as unknown as IncidentNotice;
}

function pagerDutyBody(event: WebhookEvent, routingKey: string): Record<string, unknown> {
  const incident = readIncident(event);
  const action = Object.hasOwn(EVENT_ACTIONS, incident.status) ? EVENT_ACTIONS[incident.status] : undefined;
  if (action === undefined) invalid(event, `incident.status "${incident.status}" has no PagerDuty event action (open, acknowledged, resolved, closed)`);
  const body: Record<string, unknown> = {
    routing_key: routingKey,
    event_action: action,
    // One PagerDuty alert per Shellguard incident: acknowledge and resolve find the trigger by it.
    dedup_key: `shellguard-incident-${incident.id}`,
    payload: {
      summary: incident.summary.slice(0, PAGERDUTY_SUMMARY_MAX),
      source: incident.site ?? 'shellguard',
      severity: SEVERITIES[incident.severity],
      timestamp: new Date(incident.openedAt).toISOString(),
      ...(incident.asset !== undefined ? { component: incident.asset } : {}),
      ...(incident.site !== undefined ? { group: incident.site } : {}),
      class: incident.kind,
      custom_details: {
        incident_id: incident.id, kind: incident.kind, severity: incident.severity, status: incident.status,
        ...(incident.assignee !== undefined ? { assignee: incident.assignee } : {}),
        topic: event.topic, idempotency_key: event.idempotencyKey,
      },
    },
    client: 'Shellguard',
  };
  if (incident.url !== undefined) {
    body.client_url = incident.url;
    body.links = [{ href: incident.url, text: `Shellguard incident ${incident.id}` }];
  }
  return body;
}

/** The exact bytes to sign and send; throws `payload_invalid` when the entry cannot take this format. */
export function renderWebhookBody(endpoint: Pick<NotificationEndpoint, 'format' | 'routingKey'>, event: WebhookEvent, sentAt: number): string {
  if (endpoint.format === 'generic') return JSON.stringify(genericBody(event, sentAt));
  if (!isIncidentTopic(event.topic)) invalid(event, 'only incident topics can be sent as PagerDuty events');
  return JSON.stringify(pagerDutyBody(event, endpoint.routingKey ?? ''));
}
