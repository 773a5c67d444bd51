/** The procedures domain in the server's SQLite database. */
import type { SqliteDatabase } from '../db/database.ts';
import { runMigrations, type Migration } from '../db/migrations.ts';
import type { Deviation, PanelAlert, ProcedureVersion, SiteStop, StepEvent, WorkOrder } from './procedure-model.ts';
import type { ProcedureStore, WorkOrderFilter } from './procedure-store.ts';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'procedures, work orders, step log, deviations, panel alerts, site stops',
    up(db) {
      db.exec(`CREATE TABLE procedure_versions (
        procedure_id TEXT NOT NULL, version INTEGER NOT NULL, template TEXT NOT NULL, source TEXT NOT NULL,
        author TEXT NOT NULL, created_at INTEGER NOT NULL, approved_by TEXT, approved_at INTEGER,
        PRIMARY KEY (procedure_id, version))`);
      // The record is JSON (read whole, written whole); the columns filtered on are kept beside it.
      db.exec(`CREATE TABLE work_orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL)`);
      db.exec('CREATE INDEX work_orders_site ON work_orders (site, status)');
      db.exec(`CREATE TABLE work_order_steps (
        work_order_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL,
        step INTEGER, actor TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (work_order_id, seq))`);
      db.exec(`CREATE TABLE work_order_deviations (
        id INTEGER PRIMARY KEY AUTOINCREMENT, work_order_id INTEGER NOT NULL, open INTEGER NOT NULL, record TEXT NOT NULL)`);
      db.exec('CREATE INDEX work_order_deviations_wo ON work_order_deviations (work_order_id)');
      db.exec(`CREATE TABLE panel_alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL, open INTEGER NOT NULL, record TEXT NOT NULL)`);
      db.exec('CREATE INDEX panel_alerts_open ON panel_alerts (open, site)');
      db.exec('CREATE TABLE site_stops (site TEXT PRIMARY KEY, record TEXT NOT NULL)');
    },
  },
];

interface VersionRow {
  procedure_id: string; version: number; template: string; source: string; author: string; created_at: number;
  approved_by: string | null; approved_at: number | null;
}

const toVersion = (r: VersionRow): ProcedureVersion => ({
  procedureId: r.procedure_id, version: r.version, template: JSON.parse(r.template) as ProcedureVersion['template'],
  source: r.source, author: r.author, createdAt: r.created_at, approvedBy: r.approved_by, approvedAt: r.approved_at,
});

const MAX_PAGE = 1000;
const page = (limit: number | undefined) => Math.min(Math.max(1, Math.trunc(limit ?? MAX_PAGE)), MAX_PAGE);

export class SqliteProcedureStore implements ProcedureStore {
  private readonly db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.db = db;
    runMigrations(db, 'procedures', MIGRATIONS);
  }

  async addVersion(v: Omit<ProcedureVersion, 'version' | 'approvedBy' | 'approvedAt'>): Promise<ProcedureVersion> {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT MAX(version) AS v FROM procedure_versions WHERE procedure_id = ?').get(v.procedureId) as { v: number | null };
      const version = (row.v ?? 0) + 1;
      this.db.prepare(`INSERT INTO procedure_versions (procedure_id, version, template, source, author, created_at)
        VALUES (?, ?, ?, ?, ?, ?)`).run(v.procedureId, version, JSON.stringify(v.template), v.source, v.author, v.createdAt);
      return { ...v, version, approvedBy: null, approvedAt: null };
    })();
  }

  async approveVersion(procedureId: string, version: number, by: string, at: number): Promise<void> {
    this.db.prepare('UPDATE procedure_versions SET approved_by = ?, approved_at = ? WHERE procedure_id = ? AND version = ?')
      .run(by, at, procedureId, version);
  }

  async getVersion(procedureId: string, version: number): Promise<ProcedureVersion | undefined> {
    const r = this.db.prepare('SELECT * FROM procedure_versions WHERE procedure_id = ? AND version = ?').get(procedureId, version) as VersionRow | undefined;
    return r && toVersion(r);
  }

  async versions(procedureId?: string): Promise<ProcedureVersion[]> {
    const rows = procedureId === undefined
      ? this.db.prepare('SELECT * FROM procedure_versions ORDER BY procedure_id, version DESC').all()
      : this.db.prepare('SELECT * FROM procedure_versions WHERE procedure_id = ? ORDER BY version DESC').all(procedureId);
    return (rows as VersionRow[]).map(toVersion);
  }

  async insertWorkOrder(wo: Omit<WorkOrder, 'id'>): Promise<WorkOrder> {
    return this.db.transaction(() => {
      const { lastInsertRowid } = this.db.prepare('INSERT INTO work_orders (site, status, record) VALUES (?, ?, ?)').run(wo.site, wo.status, '{}');
      const saved: WorkOrder = { ...wo, id: Number(lastInsertRowid) };
      this.db.prepare('UPDATE work_orders SET record = ? WHERE id = ?').run(JSON.stringify(saved), saved.id);
      return saved;
    })();
  }

  async saveWorkOrder(wo: WorkOrder): Promise<void> {
    this.db.prepare('UPDATE work_orders SET status = ?, record = ? WHERE id = ?').run(wo.status, JSON.stringify(wo), wo.id);
  }

  async getWorkOrder(id: number): Promise<WorkOrder | undefined> {
    const r = this.db.prepare('SELECT record FROM work_orders WHERE id = ?').get(id) as { record: string } | undefined;
    return r && (JSON.parse(r.record) as WorkOrder);
  }

  async workOrders(filter: WorkOrderFilter = {}): Promise<WorkOrder[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.site !== undefined) { where.push('site = ?'); params.push(filter.site); }
    if (filter.status !== undefined) { where.push('status = ?'); params.push(filter.status); }
    if (filter.active) where.push("status NOT IN ('completed', 'aborted')");
    const sql = `SELECT record FROM work_orders ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, page(filter.limit)) as { record: string }[]).map((r) => JSON.parse(r.record) as WorkOrder);
  }

  async appendStepEvent(e: Omit<StepEvent, 'seq'>): Promise<StepEvent> {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT MAX(seq) AS s FROM work_order_steps WHERE work_order_id = ?').get(e.workOrderId) as { s: number | null };
      const seq = (row.s ?? 0) + 1;
      this.db.prepare('INSERT INTO work_order_steps (work_order_id, seq, at, kind, step, actor, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(e.workOrderId, seq, e.at, e.kind, e.step, e.actor, JSON.stringify(e.detail));
      return { ...e, seq };
    })();
  }

  async stepEvents(workOrderId: number): Promise<StepEvent[]> {
    const rows = this.db.prepare('SELECT * FROM work_order_steps WHERE work_order_id = ? ORDER BY seq').all(workOrderId) as
      { work_order_id: number; seq: number; at: number; kind: StepEvent['kind']; step: number | null; actor: string; detail: string }[];
    return rows.map((r) => ({ workOrderId: r.work_order_id, seq: r.seq, at: r.at, kind: r.kind, step: r.step, actor: r.actor, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  async insertDeviation(d: Omit<Deviation, 'id'>): Promise<Deviation> {
    return this.insertRecord('work_order_deviations', 'work_order_id', d.workOrderId, d.acknowledgedAt === null, d);
  }

  async saveDeviation(d: Deviation): Promise<void> {
    this.db.prepare('UPDATE work_order_deviations SET open = ?, record = ? WHERE id = ?').run(d.acknowledgedAt === null ? 1 : 0, JSON.stringify(d), d.id);
  }

  async deviations(filter: { workOrderId?: number; open?: boolean }): Promise<Deviation[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.workOrderId !== undefined) { where.push('work_order_id = ?'); params.push(filter.workOrderId); }
    if (filter.open !== undefined) { where.push('open = ?'); params.push(filter.open ? 1 : 0); }
    const sql = `SELECT record FROM work_order_deviations ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (this.db.prepare(sql).all(...params) as { record: string }[]).map((r) => JSON.parse(r.record) as Deviation);
  }

  async insertAlert(a: Omit<PanelAlert, 'id'>): Promise<PanelAlert> {
    return this.insertRecord('panel_alerts', 'site', a.site, a.silencedAt === null, a);
  }

  async saveAlert(a: PanelAlert): Promise<void> {
    this.db.prepare('UPDATE panel_alerts SET open = ?, record = ? WHERE id = ?').run(a.silencedAt === null ? 1 : 0, JSON.stringify(a), a.id);
  }

  async alerts(filter: { site?: string; open?: boolean; limit?: number }): Promise<PanelAlert[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.site !== undefined) { where.push('site = ?'); params.push(filter.site); }
    if (filter.open !== undefined) { where.push('open = ?'); params.push(filter.open ? 1 : 0); }
    const sql = `SELECT record FROM panel_alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, page(filter.limit)) as { record: string }[]).map((r) => JSON.parse(r.record) as PanelAlert);
  }

  async setSiteStop(site: string, stop: SiteStop | null): Promise<void> {
    if (stop) this.db.prepare('INSERT INTO site_stops (site, record) VALUES (?, ?) ON CONFLICT(site) DO UPDATE SET record = excluded.record').run(site, JSON.stringify(stop));
    else this.db.prepare('DELETE FROM site_stops WHERE site = ?').run(site);
  }

  async siteStops(): Promise<SiteStop[]> {
    return (this.db.prepare('SELECT record FROM site_stops ORDER BY site').all() as { record: string }[]).map((r) => JSON.parse(r.record) as SiteStop);
  }

  /** Inserts a JSON record whose id is the row id, with one filter column and the open flag. */
  private insertRecord<T extends { id: number }>(table: string, keyColumn: string, key: unknown, open: boolean, rec: Omit<T, 'id'>): T {
    return this.db.transaction(() => {
      const { lastInsertRowid } = this.db.prepare(`INSERT INTO ${table} (${keyColumn}, open, record) VALUES (?, ?, '{}')`).run(key, open ? 1 : 0);
      const saved = { ...rec, id: Number(lastInsertRowid) } as T;
      this.db.prepare(`UPDATE ${table} SET record = ? WHERE id = ?`).run(JSON.stringify(saved), saved.id);
      return saved;
    })();
  }
}
