/** What the incident tests share: an audit log and an outbox kept in memory, a fake timer, DMOP incidents. */
import type { AuditEvent, AuditEventInput, AuditLog } from '../../src/audit/audit-log.ts';
import type { Scheduler } from '../../src/alarms/scheduler.ts';
import type { IncidentInput } from '../../src/incidents/incident-log.ts';
import type { IncidentOutbox, IncidentOutboxEntry } from '../../src/incidents/incident-outbox.ts';

export const T0 = 1_750_000_000_000;
export const MINUTE = 60_000;

export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];
  constructor(private readonly now: () => number = () => T0) {}
  record(event: AuditEventInput): AuditEvent {
    const stored = { ...event, seq: this.events.length + 1, at: this.now(), prevHash: '', hash: '' };
    this.events.push(stored);
    return stored;
  }
  list(): AuditEvent[] {
    return [...this.events];
  }
  verify() {
    return { ok: true, events: this.events.length, problems: [], anchors: { checked: 0 } };
  }
  actions(): string[] {
    return this.events.map((e) => e.action);
  }
}

/** Keeps entries like the real outbox (a repeated key is ignored); `failNext` makes the next enqueue throw. */
export class MemoryOutbox implements IncidentOutbox {
  readonly entries: IncidentOutboxEntry[] = [];
  failNext = false;
  enqueue(entry: IncidentOutboxEntry): boolean {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('outbox write failed');
    }
    if (this.entries.some((e) => e.idempotencyKey === entry.idempotencyKey)) return false;
    this.entries.push(entry);
    return true;
  }
  keys(): string[] {
    return this.entries.map((e) => e.idempotencyKey);
  }
}

/** Timers that fire only when the test advances the clock. */
export class FakeScheduler implements Scheduler {
  now = T0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  pending(): number {
    return this.timers.length;
  }
  /** Moves time on, firing each timer that falls due (and letting the promises it starts settle). */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      const next = [...this.timers].sort((a, b) => a.at - b.at)[0];
      if (!next || next.at > end) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.now = next.at;
      next.fn();
      for (let i = 0; i < 20; i++) await Promise.resolve();
    }
    this.now = end;
  }
}

/** As the procedures' panel supervisor writes them (DmopIncidentDetail). */
export const intrusion = (over: Partial<IncidentInput> = {}): IncidentInput => ({
  kind: 'panel.intrusion', severity: 'critical', site: 'dc1', asset: 'PANEL-LP-4B', deviceId: 'g'.repeat(64),
  reason: 'door-opened-uncovered', summary: 'Panel PANEL-LP-4B door opened with no released work order for it',
  detail: {
    panel: 'PANEL-LP-4B', point: 'door_open', at: T0,
    workOrdersNearby: [{ workOrderId: 7, title: 'Replace breaker CB-3 on PANEL-LP-2A', status: 'released', assignees: ['alice'], panels: ['PANEL-LP-2A'] }],
    readingsBefore: [{ asset: 'PANEL-LP-4B', point: 'door_open', ts: T0 - 1000, value: false }],
  },
  ...over,
});

export const deviation = (over: Partial<IncidentInput> = {}): IncidentInput => ({
  kind: 'procedure.deviation', severity: 'medium', site: 'dc1', asset: 'PANEL-LP-4B', reason: 'out-of-order',
  summary: 'Deviation on PANEL-LP-4B in work order 7: feed B isolated before feed A was verified', notify: true,
  detail: {
    workOrderId: 7, procedure: 'isolate-lp-4b@2', step: 2, expected: 'Verify feed A', observed: 'CB-B opened', assignees: ['alice', 'bob'],
    stepLog: [
      { workOrderId: 7, seq: 1, at: T0 - 120_000, kind: 'released', step: null, actor: 'user:mia', detail: {} },
      { workOrderId: 7, seq: 2, at: T0 - 60_000, kind: 'step-done', step: 0, actor: 'user:alice', detail: { note: 'LOTO applied' } },
    ],
  },
  ...over,
});
