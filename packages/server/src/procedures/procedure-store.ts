/**
 * The procedures domain's persistence port (async: a PostgreSQL implementation is next). The
 * supervisor keeps the live state in memory and writes through this port; on start it reloads
 * what is still active (work orders not ended, unsilenced alerts, site stops).
 */
import type {
  Deviation, PanelAlert, ProcedureVersion, SiteStop, StepEvent, WorkOrder, WorkOrderStatus,
} from './procedure-model.ts';

export interface WorkOrderFilter {
  site?: string | undefined;
  status?: WorkOrderStatus | undefined;
  /** Only work orders not completed or aborted. */
  active?: boolean | undefined;
  limit?: number | undefined;
}

export interface ProcedureStore {
  /** Stores a new version, numbered one above the newest of its procedure id. */
  addVersion(v: Omit<ProcedureVersion, 'version' | 'approvedBy' | 'approvedAt'>): Promise<ProcedureVersion>;
  approveVersion(procedureId: string, version: number, by: string, at: number): Promise<void>;
  getVersion(procedureId: string, version: number): Promise<ProcedureVersion | undefined>;
  /** Every version, newest procedure versions first within each id; one id when given. */
  versions(procedureId?: string): Promise<ProcedureVersion[]>;

  insertWorkOrder(wo: Omit<WorkOrder, 'id'>): Promise<WorkOrder>;
  saveWorkOrder(wo: WorkOrder): Promise<void>;
  getWorkOrder(id: number): Promise<WorkOrder | undefined>;
  /** Newest first. */
  workOrders(filter?: WorkOrderFilter): Promise<WorkOrder[]>;

  /** Appends to a work order's step log; `seq` is assigned. */
  appendStepEvent(e: Omit<StepEvent, 'seq'>): Promise<StepEvent>;
  stepEvents(workOrderId: number): Promise<StepEvent[]>;

  insertDeviation(d: Omit<Deviation, 'id'>): Promise<Deviation>;
  saveDeviation(d: Deviation): Promise<void>;
  deviations(filter: { workOrderId?: number; open?: boolean }): Promise<Deviation[]>;

  insertAlert(a: Omit<PanelAlert, 'id'>): Promise<PanelAlert>;
  saveAlert(a: PanelAlert): Promise<void>;
  alerts(filter: { site?: string; open?: boolean; limit?: number }): Promise<PanelAlert[]>;

  setSiteStop(site: string, stop: SiteStop | null): Promise<void>;
  siteStops(): Promise<SiteStop[]>;
}
