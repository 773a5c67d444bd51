/** Shared fixture of the procedures tests: fake time, a supervisor on a real (SQLite) store and audit log. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Quality, type AndonInstruction, type Sample } from '@shellguard/protocol';
import type { SqliteDatabase } from '../../src/db/database.ts';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { PROCEDURE_MIGRATIONS } from '../../src/procedures/procedure-schema.ts';
import type { AuditLog } from '../../src/audit/audit-log.ts';
import { auditKeyFromBytes } from '../../src/audit/audit-key.ts';
import { openingTestAuditLog } from '../audit/test-audit-log.ts';
import { SqlProcedureStore } from '../../src/procedures/sql-procedure-store.ts';
import { ProcedureLibrary } from '../../src/procedures/procedure-library.ts';
import { PanelSupervisor, type PanelSupervisorOptions, type SecurityIncidents } from '../../src/procedures/panel-supervisor.ts';
import type { ProcedureActor } from '../../src/procedures/procedure-actor.ts';

export const T0 = 1_760_000_000_000;
export const SITE = 'dc1';
export const PANELS = ['PANEL-1', 'PANEL-2', 'PANEL-3'];

export const SAMPLE_PROCEDURE = readFileSync(
  path.join(path.dirname(fileURLToPath(import.meta.url)), '../../procedures/isolate-pdu-feed.yaml'), 'utf8');

export const alice: ProcedureActor = { id: 'user:alice', name: 'alice', role: 'engineer' };
export const maria: ProcedureActor = { id: 'user:maria', name: 'maria', role: 'manager' };
export const tom: ProcedureActor = { id: 'user:tom', name: 'tom', role: 'technician' };
export const viewer: ProcedureActor = { id: 'user:vic', name: 'vic', role: 'viewer' };

export interface OpenedIncident { id: number; input: Parameters<SecurityIncidents['open']>[0] }

export class Dmop {
  now = T0;
  readonly signals: { site: string; i: Omit<AndonInstruction, 'v'> }[] = [];
  readonly incidents: OpenedIncident[] = [];
  readonly suppressions = new Map<string, string[]>();
  readonly errors: unknown[] = [];
  readonly audit: AuditLog;
  readonly store: SqlProcedureStore;
  /** The raw handle under the stores, to tamper with behind their backs. */
  readonly db: SqliteDatabase;
  readonly library: ProcedureLibrary;
  supervisor: PanelSupervisor;

  /** A fixture on a fresh in-memory database, its tables migrated. */
  static async create(extra: Partial<PanelSupervisorOptions> = {}): Promise<Dmop> {
    const database = openSqliteSqlDatabase(':memory:');
    await runSqlMigrations(database, 'procedures', PROCEDURE_MIGRATIONS);
    return new Dmop(database, extra);
  }

  private constructor(readonly database: SqlDatabase, extra: Partial<PanelSupervisorOptions> = {}) {
    this.db = database.sqlite!.handle;
    this.audit = openingTestAuditLog(database, { now: () => this.now, key: auditKeyFromBytes(Buffer.alloc(32, 3)) });
    this.store = new SqlProcedureStore(database.db);
    this.library = new ProcedureLibrary({ store: this.store, audit: this.audit, now: () => this.now });
    this.supervisor = this.open(extra);
  }

  /** A supervisor on the same database (a restart). */
  open(extra: Partial<PanelSupervisorOptions> = {}): PanelSupervisor {
    this.supervisor = new PanelSupervisor({
      store: this.store, library: this.library, audit: this.audit, now: () => this.now,
      directory: {
        panels: (site) => (site === SITE ? PANELS : []),
        isPanel: (site, asset) => site === SITE && PANELS.includes(asset),
        assetExists: (site, asset) => site === SITE && (PANELS.includes(asset) || asset === 'PDU-1'),
      },
      incidents: { open: (input) => { const id = this.incidents.length + 1; this.incidents.push({ id, input }); return id; } },
      suppression: { setDesignSuppression: (owner, points) => { this.suppressions.set(owner, points.map((p) => `${p.asset}/${p.point}`)); } },
      signal: (site, i) => { this.signals.push({ site, i }); },
      managerOf: () => 'maria',
      onError: (err) => { this.errors.push(err); },
      ...extra,
    });
    return this.supervisor;
  }

  /** The newest instruction sent to a panel. */
  shown(panel: string): Omit<AndonInstruction, 'v'> | undefined {
    return this.signals.filter((s) => s.i.panel === panel).at(-1)?.i;
  }

  /** The panel reports these values now (one sample per point). */
  report(panel: string, values: Record<string, number | boolean>, ts = this.now): void {
    const samples: Sample[] = Object.entries(values).map(([point, value]) => ({ point, value, ts, quality: Quality.good as Sample['quality'] }));
    this.supervisor.onSamples(SITE, panel, samples);
  }

  /** A healthy energised panel, door closed, every breaker closed. */
  baseline(panel: string): void {
    this.report(panel, {
      door_open: false, main_breaker_closed: true, breaker_1_closed: true, breaker_2_closed: true, breaker_3_closed: true,
      voltage_l1: 230, voltage_l2: 231, voltage_l3: 229, current_l1: 40, current_l2: 35, current_l3: 30,
    });
  }

  /** What the main breaker does to the panel's metering. */
  mainBreaker(panel: string, closed: boolean): void {
    this.report(panel, closed
      ? { main_breaker_closed: true, voltage_l1: 230, voltage_l2: 231, voltage_l3: 229, current_l1: 40, current_l2: 35, current_l3: 30 }
      : { main_breaker_closed: false, voltage_l1: 0.4, voltage_l2: 0.2, voltage_l3: 0.3, current_l1: 0, current_l2: 0, current_l3: 0 });
  }

  /** Advances time, ticking the supervisor each second. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + 1_000);
      this.supervisor.tick(this.now);
    }
    await this.supervisor.flush();
  }

  /** An approved sample procedure and a released work order for PANEL-1, window now..+2 h, for tom. */
  async released(panel = 'PANEL-1'): Promise<number> {
    const v = await this.library.submit(SAMPLE_PROCEDURE, alice);
    await this.library.approve(v.procedureId, v.version, maria);
    const wo = await this.supervisor.createWorkOrder({
      site: SITE, procedureId: v.procedureId, version: v.version, bindings: { source: panel },
      windowStart: this.now, windowEnd: this.now + 2 * 3_600_000, assignees: ['tom'],
    }, alice);
    await this.supervisor.approveWorkOrder(wo.id, maria);
    await this.supervisor.releaseWorkOrder(wo.id, alice);
    return wo.id;
  }

  /** Walks steps 1–3 (open, main breaker off, absence of voltage verified). */
  async isolate(panel = 'PANEL-1'): Promise<void> {
    this.report(panel, { door_open: true });
    this.mainBreaker(panel, false);
    await this.advance(1_000);
    for (let i = 0; i < 4; i++) {
      this.now += 1_000;
      this.report(panel, { voltage_l1: 0.4, voltage_l2: 0.2, voltage_l3: 0.3 });
    }
    await this.supervisor.flush();
  }
}
