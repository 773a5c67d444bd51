/** Outbox entries of the shape the incident domain enqueues (no test-runner imports: child processes use it too). */
import type { OutboxEntry } from '../../src/notifications/outbox.ts';

export const T0 = 1_750_000_000_000;

/** `incident:<id>:<event>`; `opened` goes out as incident.opened, every other event as incident.updated. */
export function incidentEntry(id: number, event = 'opened', extra: Record<string, unknown> = {}): OutboxEntry {
  return {
    topic: event === 'opened' ? 'incident.opened' : 'incident.updated',
    idempotencyKey: `incident:${id}:${event}`,
    payload: { incident: { id, kind: 'wrong_panel_opened', severity: 'high', status: 'open', summary: `incident ${id}`, openedAt: T0, ...extra } },
  };
}
