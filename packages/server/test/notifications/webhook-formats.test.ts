import { describe, expect, it } from 'vitest';
import { renderWebhookBody, type WebhookEvent } from '../../src/notifications/webhook-formats.ts';
import { T0, incidentEntry } from './incident-entries.ts';

const PAGER = { format: 'pagerduty' as const, routingKey: 'R0UT1NGKEY' };
const event = (entry = incidentEntry(5)): WebhookEvent => ({ ...entry, enqueuedAt: T0 + 42 });
const pagerDuty = (extra: Record<string, unknown>) => JSON.parse(renderWebhookBody(PAGER, event(incidentEntry(5, 'updated', extra)), T0)) as {
  event_action: string; dedup_key: string; payload: Record<string, unknown>; links?: unknown;
};

describe('renderWebhookBody (generic)', () => {
  it('wraps any entry as { id, type, occurredAt, timestamp, data }', () => {
    const e = event({ topic: 'audit.anchor', idempotencyKey: 'audit:anchor:9', payload: { seq: 9 } });
    expect(JSON.parse(renderWebhookBody({ format: 'generic' }, e, T0 + 1_000))).toEqual({
      id: 'audit:anchor:9', type: 'audit.anchor', occurredAt: new Date(T0 + 42).toISOString(), timestamp: T0 + 1_000, data: { seq: 9 },
    });
  });
});

describe('renderWebhookBody (PagerDuty Events API v2)', () => {
  it.each([
    ['open', 'trigger'], ['acknowledged', 'acknowledge'], ['resolved', 'resolve'], ['closed', 'resolve'],
  ])('maps incident status %s to event_action %s', (status, action) => {
    expect(pagerDuty({ status })).toMatchObject({ event_action: action, dedup_key: 'shellguard-incident-5' });
  });

  it.each([
    ['critical', 'critical'], ['high', 'error'], ['medium', 'warning'], ['low', 'info'],
  ])('maps severity %s to %s', (severity, pd) => {
    expect(pagerDuty({ severity }).payload.severity).toBe(pd);
  });

  it('fills what the incident lacks with defaults and cuts the summary at 1024 characters', () => {
    const body = pagerDuty({ summary: 'x'.repeat(2_000) });
    expect(body.payload).toMatchObject({ source: 'shellguard', class: 'wrong_panel_opened', timestamp: new Date(T0).toISOString() });
    expect(body.payload).not.toHaveProperty('component');
    expect(body.payload).not.toHaveProperty('group');
    expect(body).not.toHaveProperty('links');
    expect((body.payload.summary as string).length).toBe(1024);
  });

  it.each([
    ['an unknown status', { status: 'snoozed' }, 'incident.status "snoozed" has no PagerDuty event action (open, acknowledged, resolved, closed)'],
    ['an unknown severity', { severity: 'p1' }, 'incident.severity must be low, medium, high or critical'],
    ['a text id', { id: '5' }, 'incident.id must be a whole number'],
    ['a text time', { openedAt: '2025-06-15' }, 'incident.openedAt must be epoch milliseconds'],
    ['a non-text asset', { asset: 7 }, 'incident.asset must be a string'],
  ])('refuses %s as payload_invalid', (_what, extra, problem) => {
    expect(() => renderWebhookBody(PAGER, event(incidentEntry(5, 'updated', extra)), T0)).toThrow(expect.objectContaining({
      code: 'payload_invalid', message: `incident.updated incident:5:updated: ${problem}`,
    }));
  });

  it('refuses an incident topic without an incident', () => {
    expect(() => renderWebhookBody(PAGER, event({ topic: 'incident.opened', idempotencyKey: 'incident:5:opened', payload: {} }), T0))
      .toThrow('incident.opened incident:5:opened: payload.incident is missing');
  });

  it('refuses a topic that is not an incident', () => {
    expect(() => renderWebhookBody(PAGER, event({ topic: 'audit.anchor', idempotencyKey: 'a:1', payload: {} }), T0))
      .toThrow(expect.objectContaining({ code: 'payload_invalid' }));
  });
});
