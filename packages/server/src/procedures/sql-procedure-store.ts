/** {@link ProcedureStore} on the server's database, either engine (issue 12). Tables: procedure-schema.ts. */
import type { Generated, Kysely } from 'kysely';
import { inTransaction, type SqlExecutor } from '../db/sql-database.ts';
import type { Deviation, PanelAlert, ProcedureVersion, SiteStop, StepEvent, WorkOrder } from './procedure-model.ts';
import type { ProcedureStore, WorkOrderFilter } from './procedure-store.ts';

interface VersionRow {
  procedure_id: string; version: number; template: string; source: string; author: string; created_at: number;
  approved_by: string | null; approved_at: number | null;
}
interface StepRow { work_order_id: number; seq: number; at: number; kind: StepEvent['kind']; step: number | null; actor: string; detail: string }
/** A JSON record whose id is its row's, with the columns filtered on beside it. */
interface RecordRow { id: Generated<number>; open: number; record: string }

interface ProcedureTables {
  procedure_versions: VersionRow;
  work_orders: { id: Generated<number>; site: string; status: string; record: string };
  work_order_steps: StepRow;
  work_order_deviations: RecordRow & { work_order_id: number };
  panel_alerts: RecordRow & { site: string };
  site_stops: { site: string; record: string };
}

const toVersion = (r: VersionRow): ProcedureVersion => ({
  procedureId: r.procedure_id, version: r.version, template: JSON.parse(r.template) as ProcedureVersion['template'],
  source: r.source, author: r.author, createdAt: r.created_at, approvedBy: r.approved_by, approvedAt: r.approved_at,
});

const MAX_PAGE = 1000;
const page = (limit: number | undefined) => Math.min(Math.max(1, Math.trunc(limit ?? MAX_PAGE)), MAX_PAGE);
/** Numbering by MAX + 1 races another replica's insert; the loser numbers again (bounded). */
const MAX_NUMBERING_TRIES = 10;

export class SqlProcedureStore implements ProcedureStore {
  private readonly db: Kysely<ProcedureTables>;

  constructor(exec: SqlExecutor) {
    this.db = exec as Kysely<ProcedureTables>;
  }

  async addVersion(v: Omit<ProcedureVersion, 'version' | 'approvedBy' | 'approvedAt'>): Promise<ProcedureVersion> {
    const version = await numbered(async () => {
      const row = await this.db.selectFrom('procedure_versions').select((eb) => eb.fn.max('version').as('v'))
        .where('procedure_id', '=', v.procedureId).executeTakeFirst();
      const next = (row?.v ?? 0) + 1;
      const inserted = await this.db.insertInto('procedure_versions').values({
        procedure_id: v.procedureId, version: next, template: JSON.stringify(v.template), source: v.source, author: v.author,
        created_at: v.createdAt, approved_by: null, approved_at: null,
      }).onConflict((oc) => oc.columns(['procedure_id', 'version']).doNothing()).returning('version').executeTakeFirst();
      return inserted?.version;
    });
    return { ...v, version, approvedBy: null, approvedAt: null };
  }

  async approveVersion(procedureId: string, version: number, by: string, at: number): Promise<void> {
    await this.db.updateTable('procedure_versions').set({ approved_by: by, approved_at: at })
      .where('procedure_id', '=', procedureId).where('version', '=', version).execute();
  }

  async getVersion(procedureId: string, version: number): Promise<ProcedureVersion | undefined> {
    const r = await this.db.selectFrom('procedure_versions').selectAll()
      .where('procedure_id', '=', procedureId).where('version', '=', version).executeTakeFirst();
    return r && toVersion(r);
  }

  async versions(procedureId?: string): Promise<ProcedureVersion[]> {
    let q = this.db.selectFrom('procedure_versions').selectAll();
    if (procedureId !== undefined) q = q.where('procedure_id', '=', procedureId);
    return (await q.orderBy('procedure_id').orderBy('version', 'desc').execute()).map(toVersion);
  }

  async insertWorkOrder(wo: Omit<WorkOrder, 'id'>): Promise<WorkOrder> {
    return inTransaction(this.db, async (tx: Kysely<ProcedureTables>) => {
      const { id } = await tx.insertInto('work_orders').values({ site: wo.site, status: wo.status, record: '{}' })
        .returning('id').executeTakeFirstOrThrow();
      const saved: WorkOrder = { ...wo, id };
      await tx.updateTable('work_orders').set({ record: JSON.stringify(saved) }).where('id', '=', id).execute();
      return saved;
    });
  }

  async saveWorkOrder(wo: WorkOrder): Promise<void> {
    await this.db.updateTable('work_orders').set({ status: wo.status, record: JSON.stringify(wo) }).where('id', '=', wo.id).execute();
  }

  async getWorkOrder(id: number): Promise<WorkOrder | undefined> {
    const r = await this.db.selectFrom('work_orders').select('record').where('id', '=', id).executeTakeFirst();
    return r && (JSON.parse(r.record) as WorkOrder);
  }

  async workOrders(filter: WorkOrderFilter = {}): Promise<WorkOrder[]> {
    let q = this.db.selectFrom('work_orders').select('record');
    if (filter.site !== undefined) q = q.where('site', '=', filter.site);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.active) q = q.where('status', 'not in', ['completed', 'aborted']);
    const rows = await q.orderBy('id', 'desc').limit(page(filter.limit)).execute();
    return rows.map((r) => JSON.parse(r.record) as WorkOrder);
  }

  async appendStepEvent(e: Omit<StepEvent, 'seq'>): Promise<StepEvent> {
    const seq = await numbered(async () => {
      const row = await this.db.selectFrom('work_order_steps').select((eb) => eb.fn.max('seq').as('s'))
        .where('work_order_id', '=', e.workOrderId).executeTakeFirst();
      const next = (row?.s ?? 0) + 1;
      const inserted = await this.db.insertInto('work_order_steps').values({
        work_order_id: e.workOrderId, seq: next, at: e.at, kind: e.kind, step: e.step, actor: e.actor, detail: JSON.stringify(e.detail),
      }).onConflict((oc) => oc.columns(['work_order_id', 'seq']).doNothing()).returning('seq').executeTakeFirst();
      return inserted?.seq;
    });
    return { ...e, seq };
  }

  async stepEvents(workOrderId: number): Promise<StepEvent[]> {
    const rows = await this.db.selectFrom('work_order_steps').selectAll().where('work_order_id', '=', workOrderId).orderBy('seq').execute();
    return rows.map((r) => ({
      workOrderId: r.work_order_id, seq: r.seq, at: r.at, kind: r.kind, step: r.step, actor: r.actor, detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }

  async insertDeviation(d: Omit<Deviation, 'id'>): Promise<Deviation> {
    return inTransaction(this.db, async (tx: Kysely<ProcedureTables>) => {
      const { id } = await tx.insertInto('work_order_deviations')
        .values({ work_order_id: d.workOrderId, open: d.acknowledgedAt === null ? 1 : 0, record: '{}' })
        .returning('id').executeTakeFirstOrThrow();
      const saved: Deviation = { ...d, id };
      await tx.updateTable('work_order_deviations').set({ record: JSON.stringify(saved) }).where('id', '=', id).execute();
      return saved;
    });
  }

  async saveDeviation(d: Deviation): Promise<void> {
    await this.db.updateTable('work_order_deviations').set({ open: d.acknowledgedAt === null ? 1 : 0, record: JSON.stringify(d) })
      .where('id', '=', d.id).execute();
  }

  async deviations(filter: { workOrderId?: number; open?: boolean }): Promise<Deviation[]> {
    let q = this.db.selectFrom('work_order_deviations').select('record');
    if (filter.workOrderId !== undefined) q = q.where('work_order_id', '=', filter.workOrderId);
    if (filter.open !== undefined) q = q.where('open', '=', filter.open ? 1 : 0);
    return (await q.orderBy('id').execute()).map((r) => JSON.parse(r.record) as Deviation);
  }

  async insertAlert(a: Omit<PanelAlert, 'id'>): Promise<PanelAlert> {
    return inTransaction(this.db, async (tx: Kysely<ProcedureTables>) => {
      const { id } = await tx.insertInto('panel_alerts').values({ site: a.site, open: a.silencedAt === null ? 1 : 0, record: '{}' })
        .returning('id').executeTakeFirstOrThrow();
      const saved: PanelAlert = { ...a, id };
      await tx.updateTable('panel_alerts').set({ record: JSON.stringify(saved) }).where('id', '=', id).execute();
      return saved;
    });
  }

  async saveAlert(a: PanelAlert): Promise<void> {
    await this.db.updateTable('panel_alerts').set({ open: a.silencedAt === null ? 1 : 0, record: JSON.stringify(a) }).where('id', '=', a.id).execute();
  }

  async alerts(filter: { site?: string; open?: boolean; limit?: number }): Promise<PanelAlert[]> {
    let q = this.db.selectFrom('panel_alerts').select('record');
    if (filter.site !== undefined) q = q.where('site', '=', filter.site);
    if (filter.open !== undefined) q = q.where('open', '=', filter.open ? 1 : 0);
    return (await q.orderBy('id', 'desc').limit(page(filter.limit)).execute()).map((r) => JSON.parse(r.record) as PanelAlert);
  }

  async setSiteStop(site: string, stop: SiteStop | null): Promise<void> {
    if (stop) {
      await this.db.insertInto('site_stops').values({ site, record: JSON.stringify(stop) })
        .onConflict((oc) => oc.column('site').doUpdateSet((eb) => ({ record: eb.ref('excluded.record') }))).execute();
    } else {
      await this.db.deleteFrom('site_stops').where('site', '=', site).execute();
    }
  }

  async siteStops(): Promise<SiteStop[]> {
    return (await this.db.selectFrom('site_stops').select('record').orderBy('site').execute()).map((r) => JSON.parse(r.record) as SiteStop);
  }
}

/** Runs `attempt` (number, then insert unless taken) until it gets a number. */
async function numbered(attempt: () => Promise<number | undefined>): Promise<number> {
  for (let i = 0; i < MAX_NUMBERING_TRIES; i++) {
    const n = await attempt();
    if (n !== undefined) return n;
  }
  throw new Error(`could not number a new row after ${MAX_NUMBERING_TRIES} tries: too many concurrent writers`);
}
