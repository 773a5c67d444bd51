/**
 * What the incident tests share: the incident log on a test database with the real audit log and
 * outbox (so a rolled-back change leaves none of them), an audit log kept in memory, a fake timer,
 * DMOP incidents.
 */
import { ManualClock } from '@shellguard/protocol/testing';
import type { AuditEvent, AuditEventInput, AuditLog } from '../../src/audit/audit-log.ts';
import { auditKeyFromBytes } from '../../src/audit/audit-key.ts';
import { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import type { IncidentInput } from '../../src/incidents/incident-log.ts';
import type { IncidentOutboxEntry } from '../../src/incidents/incident-outbox.ts';
import { SqlIncidentLog, type SqlIncidentLogOptions } from '../../src/incidents/sql-incident-log.ts';
import { SqlOutboxStore } from '../../src/notifications/sql-outbox-store.ts';

export const T0 = 1_750_000_000_000;
export const MINUTE = 60_000;
/** One key for every log opened on a test database (a second server shares the first one's chain). */
const TEST_AUDIT_KEY = auditKeyFromBytes(Buffer.alloc(32, 9));

export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];
  constructor(private readonly now: () => number = () => T0) {}
  async record(event: AuditEventInput): Promise<AuditEvent> {
    const stored = { ...event, seq: this.events.length + 1, at: this.now(), prevHash: '', hash: '' };
    this.events.push(stored);
    return stored;
  }
  async list(): Promise<AuditEvent[]> {
    return [...this.events];
  }
  async verify() {
    return { ok: true, events: this.events.length, problems: [], anchors: { checked: 0 } };
  }
  /** As a unit of work hands it out: memory does not roll back. */
  recorderIn(): MemoryAuditLog {
    return this;
  }
  actions(): string[] {
    return this.events.map((e) => e.action);
  }
}

/** The incident log on `database` (migrated), with its audit log and outbox on the same database. */
export interface IncidentsUnderTest {
  log: SqlIncidentLog;
  audit: SqlAuditLog;
  outbox: SqlOutboxStore;
  /** Set to make the next outbox write throw (a full disk, a constraint): the change must roll back whole. */
  failNextEnqueue: boolean;
  /** How often the log said an announcement committed (the dispatcher's kick). */
  announced: number;
  /** What the outbox committed, in enqueue order. */
  entries(): Promise<IncidentOutboxEntry[]>;
  keys(): Promise<string[]>;
}

export async function openIncidents(database: SqlDatabase, options: Omit<SqlIncidentLogOptions, 'engine' | 'audit' | 'outbox'> & { now: () => number }): Promise<IncidentsUnderTest> {
  const audit = await SqlAuditLog.open(database.db, { engine: database.engine, key: TEST_AUDIT_KEY, now: options.now });
  const outbox = new SqlOutboxStore(database.db, { now: options.now, endpoints: [{ id: 'ops', format: 'generic' }] });
  const under: IncidentsUnderTest = {
    audit, outbox, failNextEnqueue: false, announced: 0,
    log: undefined as unknown as SqlIncidentLog,
    async entries() {
      const rows = await database.db.selectFrom('outbox_entries').select(['topic', 'idempotency_key', 'payload']).orderBy('id').execute();
      return rows.map((r) => ({ topic: r.topic as string, idempotencyKey: r.idempotency_key as string, payload: JSON.parse(r.payload as string) as Record<string, unknown> }));
    },
    async keys() {
      return (await under.entries()).map((e) => e.idempotencyKey);
    },
  };
  under.log = new SqlIncidentLog(database.db, {
    ...options, engine: database.engine, audit,
    outbox: {
      writerIn: (tx) => ({
        enqueue: async (entry) => {
          if (under.failNextEnqueue) {
            under.failNextEnqueue = false;
            throw new Error('outbox write failed');
          }
          return outbox.writerIn(tx).enqueue(entry);
        },
      }),
    },
    onAnnounced: () => { under.announced++; },
  });
  return under;
}

/** Timers that fire only when the test advances the clock; `now` set jumps it without firing any. */
export class FakeScheduler {
  readonly clock = new ManualClock(T0);
  get now(): number {
    return this.clock.now();
  }
  set now(time: number) {
    this.clock.setTime(time);
  }
  pending(): number {
    return this.clock.dueTimes().length;
  }
  /** Moves time on, firing each timer that falls due (and letting the promises it starts settle). */
  advance(ms: number): Promise<void> {
    // The clock's own settle: a few turns of the event loop, which drain the database's promise chains too.
    return this.clock.advanceAsync(ms);
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
