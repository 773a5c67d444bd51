/**
 * The DMOP loop on the server ("bowling with bumpers"): work orders released to panels, every
 * door and breaker edge judged against the current step, deviations that turn the panel red and
 * pause the work until a manager acknowledges, security alerts for panels opened or operated with
 * no released work, site stops, and the Andon instruction each panel's guardian shows.
 *
 * Live state is kept in memory and decided synchronously, so a door edge reaches the tower
 * without waiting on the database; every change is then written through the store port in
 * order, audited, and reloaded at start (active work orders, unsilenced alerts, site stops).
 */
import type { AndonInstruction, Sample } from '@shellguard/protocol';
import type { AuditEventInput, AuditRecorder } from '../audit/audit-log.ts';
import { ProcedureError } from './procedure-error.ts';
import type { Deviation, DeviationKind, PanelAlert, PanelAlertKind, SiteStop, StepEvent, StepEventKind, WorkOrder } from './procedure-model.ts';
import type { ProcedureStore } from './procedure-store.ts';
import { expectedChanges, type ProcedureTemplate } from './procedure-template.ts';
import type { ProcedureLibrary } from './procedure-library.ts';
import { requireActorRole, requireReason, type ProcedureActor } from './procedure-actor.ts';
import { COMPLETE_SHOW_MS, panelSignal, type PanelSignal } from './andon-view.ts';
import { conditionsHold, describeReadings, describeStep, DOOR_POINT, judgeEdge, type Judgement } from './step-judge.ts';

const PLANNER_ROLES = ['admin', 'engineer', 'manager'] as const;
const MANAGER_ROLES = ['admin', 'manager'] as const;
const SYSTEM = 'system';

/** Panels of a site, as the registry knows them (assets of type panel). */
export interface PanelDirectory {
  panels(site: string): string[];
  isPanel(site: string, asset: string): boolean;
  assetExists(site: string, asset: string): boolean;
}

/** The incident/ticket store, as this domain needs it. */
export interface SecurityIncidents {
  open(input: {
    kind: 'panel.intrusion' | 'procedure.deviation';
    severity: 'high' | 'critical';
    site: string;
    asset: string;
    reason: string;
    summary: string;
    assignee: string | undefined;
    detail: Record<string, unknown>;
    /** Assets whose telemetry around `at` the incident should capture. */
    captureAssets: string[];
    at: number;
  }): number | Promise<number>;
}

/** Suppression by design of exactly the points a released procedure expects to change. */
export interface DesignSuppression {
  /** Replaces what `owner` suppresses (empty: lifts it). */
  setDesignSuppression(owner: string, points: { site: string; asset: string; point: string }[], actor: string): void;
}

export interface PanelSupervisorOptions {
  store: ProcedureStore;
  library: ProcedureLibrary;
  audit: AuditRecorder;
  directory: PanelDirectory;
  incidents: SecurityIncidents;
  suppression: DesignSuppression;
  /** Sends an instruction to the guardian that controls the panel. */
  signal: (site: string, instruction: Omit<AndonInstruction, 'v'>) => void;
  /** The site's manager, to whom security incidents are assigned. */
  managerOf: (site: string) => string | undefined | Promise<string | undefined>;
  now: () => number;
  /**
   * The last stored value of each panel's points, read at start before any new telemetry: after
   * a restart, a door opened while the server was down still makes an edge when the guardian's
   * queued samples arrive.
   */
  lastKnownPanels?: () => Iterable<{ site: string; asset: string; values: Iterable<[string, Sample['value']]> }>
    | Promise<Iterable<{ site: string; asset: string; values: Iterable<[string, Sample['value']]> }>>;
  /** A domain change the dashboard should show (work orders, panels, alerts). */
  onChanged?: (what: 'work-orders' | 'panels') => void;
  onError?: (err: unknown, what: string) => void;
  /** Every panel's instruction is sent again this often (ms, default 10 s), for towers and guardians that restarted. */
  refreshMs?: number;
  /** A silenced panel's instructions carry clearLocal this long after the silence (ms, default 60 s). */
  clearLocalMs?: number;
}

interface Active {
  wo: WorkOrder;
  template: ProcedureTemplate;
  lastStepDoneAt: number | null;
  /** Since when every condition of the current verify step holds (sample time). */
  holdSince: number | null;
  suppressed: boolean;
}

export interface PanelView {
  site: string;
  panel: string;
  signal: PanelSignal;
  door: boolean | null;
  breakers: Record<string, boolean>;
  alert: PanelAlert | null;
  workOrder: { id: number; title: string; status: WorkOrder['status']; assignees: string[] } | null;
}

export interface WorkOrderDetail {
  workOrder: WorkOrder;
  template: ProcedureTemplate;
  paused: boolean;
  stopped: SiteStop | null;
  expected: string | null;
  steps: StepEvent[];
  deviations: Deviation[];
  /** What the bound assets report now (the points the procedure reads). */
  readings: { role: string; asset: string; point: string; value: number | boolean | null }[];
}

export interface CreateWorkOrderInput {
  site: string;
  procedureId: string;
  version: number;
  bindings: Record<string, string>;
  windowStart: number;
  windowEnd: number;
  assignees: string[];
  title?: string | undefined;
}

const key = (site: string, asset: string) => `${site}\0${asset}`;

export class PanelSupervisor {
  private readonly o: PanelSupervisorOptions;
  private readonly active = new Map<number, Active>();
  private readonly recentlyCompleted = new Map<number, Active>();
  private readonly alerts = new Map<number, PanelAlert>();
  private readonly openDeviations = new Map<number, Deviation>();
  private readonly stops = new Map<string, SiteStop>();
  /** Latest value of every point of the panels and bound assets: `site\0asset` → point → value. */
  private readonly latest = new Map<string, Map<string, Sample['value']>>();
  /** Time of each latest value: `site\0asset\0point` → ts. A sample older than it is history, not an edge. */
  private readonly latestTs = new Map<string, number>();
  private readonly silencedAt = new Map<string, number>();
  private readonly lastSent = new Map<string, string>();
  private writes: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private pendingAlerts = 0;
  private lastRefresh = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: PanelSupervisorOptions) {
    this.o = opts;
  }

  /** Reloads what is still active and starts the 1 s tick (deadlines, windows, refresh). */
  async start(): Promise<void> {
    await this.load();
    this.timer = setInterval(() => this.tick(), 1_000);
    this.timer.unref();
  }

  async load(): Promise<void> {
    for (const wo of await this.o.store.workOrders({ active: true })) {
      if (wo.status === 'draft' || wo.status === 'approved') continue;
      const v = await this.o.library.get(wo.procedureId, wo.version);
      this.active.set(wo.id, { wo, template: v.template, lastStepDoneAt: null, holdSince: null, suppressed: false });
    }
    for (const a of await this.o.store.alerts({ open: true })) this.alerts.set(a.id, a);
    for (const d of await this.o.store.deviations({ open: true })) this.openDeviations.set(d.id, d);
    for (const s of await this.o.store.siteStops()) this.stops.set(s.site, s);
    try {
      for (const p of (await this.o.lastKnownPanels?.()) ?? []) this.latest.set(key(p.site, p.asset), new Map(p.values));
    } catch (err) {
      this.o.onError?.(err, 'read the last stored panel states');
    }
    this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Resolves when every change so far is written (tests and shutdown). */
  async flush(): Promise<void> {
    await this.writes;
  }

  // ------------------------------------------------------------------ live events

  /**
   * Samples of one asset, in time order (ingest calls this for what it stored). Edges of the door
   * and breakers of panels are judged; readings of bound assets feed verifications.
   */
  onSamples(site: string, asset: string, samples: readonly Sample[]): void {
    const k = key(site, asset);
    const panel = this.o.directory.isPanel(site, asset);
    if (!panel && !this.isBound(site, asset)) return;
    let values = this.latest.get(k);
    if (!values) this.latest.set(k, (values = new Map()));
    let changed = false;
    for (const s of samples) {
      // Batches can arrive out of order (a redelivery, a slow poll finishing after a fast one):
      // a door or breaker is judged on its newest reading only.
      const tk = `${k}\0${s.point}`;
      const seen = this.latestTs.get(tk);
      if (seen !== undefined && s.ts < seen) continue;
      this.latestTs.set(tk, s.ts);
      const before = values.get(s.point);
      values.set(s.point, s.value);
      if (panel && typeof s.value === 'boolean' && typeof before === 'boolean' && before !== s.value) {
        this.onEdge(site, asset, s.point, s.value, s.ts);
        changed = true;
      }
    }
    this.checkConditions(site, asset, samples.at(-1)?.ts ?? this.o.now());
    if (changed) this.signalSite(site);
  }

  private onEdge(site: string, panel: string, point: string, value: boolean, at: number): void {
    const covering = this.covering(site, panel, at);
    if (!covering) {
      if (point === DOOR_POINT && !value) return; // closing a door is not an intrusion; the alert stays until silenced
      this.raiseAlert(site, panel, point === DOOR_POINT ? 'door-opened-uncovered' : 'breaker-operated-uncovered', point, at);
      return;
    }
    const { a, role } = covering;
    const observed = { panel, point, value, at };
    if (this.stops.has(site)) {
      this.deviate(a, panel, 'work-during-stop', 'no work while the site is stopped', `${point} ${value ? 'on/open' : 'off/closed'} on ${panel} during the stop`, at);
      return;
    }
    if (a.wo.hold) {
      this.log(a.wo, 'observed', a.wo.currentStep, SYSTEM, { ...observed, note: 'while paused for a deviation' }, at);
      return;
    }
    const j: Judgement = judgeEdge(a.template, a.wo, { role, point, value }, a.wo.operatedAt !== null);
    switch (j.kind) {
      case 'step-done':
        this.startIfReleased(a, SYSTEM, at);
        this.stepDone(a, SYSTEM, observed, at);
        break;
      case 'operated':
        this.startIfReleased(a, SYSTEM, at);
        a.wo.operatedAt = at;
        this.log(a.wo, 'observed', a.wo.currentStep, SYSTEM, { ...observed, note: 'operated; awaiting the expected changes' }, at);
        this.save(a.wo, at);
        this.checkActive(a, at);
        break;
      case 'accepted':
        this.log(a.wo, 'observed', a.wo.currentStep, SYSTEM, { ...observed, note: j.note }, at);
        break;
      case 'deviation':
        this.deviate(a, panel, j.deviation, j.expected, j.observed, at);
        break;
    }
  }

  private checkConditions(site: string, asset: string, at: number): void {
    for (const a of this.active.values()) {
      if (a.wo.site !== site || !Object.values(a.wo.bindings).includes(asset)) continue;
      this.checkActive(a, at);
    }
  }

  /** Verify steps and an operate step's expected changes: done when they hold, deviations when late. */
  private checkActive(a: Active, at: number): void {
    if (a.wo.status !== 'in-progress' || a.wo.hold || this.stops.has(a.wo.site)) return;
    const step = a.template.steps[a.wo.currentStep];
    if (!step) return;
    const reading = (role: string, point: string) => this.reading(a.wo, role, point);
    if (step.kind === 'verify') {
      if (conditionsHold(step.conditions, reading)) {
        a.holdSince ??= at;
        if (at - a.holdSince >= step.holdMs) {
          this.stepDone(a, SYSTEM, { verified: describeReadings(step.conditions, reading), heldMs: at - a.holdSince }, at);
          return;
        }
      } else {
        a.holdSince = null;
      }
      if (a.wo.stepSince !== null && at - a.wo.stepSince > step.withinMs) {
        this.deviate(a, a.wo.bindings[step.panel]!, 'verification-failed', describeStep(step, a.wo.currentStep),
          `not held for ${step.holdMs} ms within ${step.withinMs} ms: ${describeReadings(step.conditions, reading)}`, at);
      }
    } else if (step.kind === 'operate' && a.wo.operatedAt !== null) {
      if (conditionsHold(step.expect, reading)) {
        this.stepDone(a, SYSTEM, { expected: describeReadings(step.expect, reading) }, at);
      } else if (at - a.wo.operatedAt > step.expectWithinMs) {
        this.deviate(a, a.wo.bindings[step.panel]!, 'expectation-failed', describeStep(step, a.wo.currentStep),
          `${step.expectWithinMs} ms after the operation: ${describeReadings(step.expect, reading)}`, at);
      }
    }
  }

  private reading(wo: WorkOrder, role: string, point: string): number | undefined {
    const asset = wo.bindings[role];
    const v = asset === undefined ? undefined : this.latest.get(key(wo.site, asset))?.get(point);
    return typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : undefined;
  }

  /** Deadlines, windows opening and closing, the refresh of every panel's instruction. */
  tick(now: number = this.o.now()): void {
    for (const a of [...this.active.values()]) {
      const wo = a.wo;
      if (wo.status === 'released' && now > wo.windowEnd) {
        this.end(a, 'aborted', SYSTEM, 'the work window ended before the work started', now);
        continue;
      }
      this.checkActive(a, now);
      this.applySuppression(a, now);
    }
    for (const [id, a] of this.recentlyCompleted) if (a.wo.endedAt !== null && now - a.wo.endedAt > COMPLETE_SHOW_MS) this.recentlyCompleted.delete(id);
    const refresh = now - this.lastRefresh >= (this.o.refreshMs ?? 10_000);
    if (refresh) this.lastRefresh = now;
    for (const site of this.sites()) this.signalSite(site, refresh);
  }

  /** Sends every panel's instruction again now (a guardian reconnected). */
  refresh(): void {
    this.lastRefresh = -Infinity;
    this.tick();
  }

  // ------------------------------------------------------------------ work orders

  async createWorkOrder(input: CreateWorkOrderInput, actor: ProcedureActor): Promise<WorkOrder> {
    requireActorRole(actor, PLANNER_ROLES, 'create a work order');
    const v = await this.o.library.approved(input.procedureId, input.version);
    const t = v.template;
    const bad = (m: string) => new ProcedureError('work_order_invalid', m);
    if (!(input.windowEnd > input.windowStart)) throw bad('the window must end after it starts');
    if (input.windowEnd - input.windowStart > 7 * 86_400_000) throw bad('a work window is at most 7 days');
    if (input.windowEnd <= this.o.now()) throw bad('the window has already ended');
    for (const role of Object.keys(input.bindings)) if (![...t.panels, ...t.assets].includes(role)) throw bad(`"${role}" is not a role of ${t.id} (${[...t.panels, ...t.assets].join(', ')})`);
    for (const role of t.panels) {
      const asset = input.bindings[role];
      if (asset === undefined) throw bad(`panel role "${role}" needs a panel`);
      if (!this.o.directory.isPanel(input.site, asset)) throw bad(`${asset} is not a panel at site ${input.site}`);
    }
    for (const role of t.assets) {
      const asset = input.bindings[role];
      if (asset === undefined) throw bad(`asset role "${role}" needs an asset`);
      if (!this.o.directory.assetExists(input.site, asset)) throw bad(`no asset ${asset} at site ${input.site}`);
    }
    if (input.assignees.length === 0) throw bad('a work order needs at least one assigned technician');
    const now = this.o.now();
    const wo = await this.o.store.insertWorkOrder({
      site: input.site, procedureId: v.procedureId, version: v.version, title: input.title?.trim() || t.title,
      bindings: { ...input.bindings }, windowStart: input.windowStart, windowEnd: input.windowEnd,
      assignees: [...new Set(input.assignees)], createdBy: actor.name, createdAt: now, approvedBy: null,
      releasedBy: null, releasedAt: null, status: 'draft', currentStep: 0, stepSince: null, operatedAt: null,
      hold: null, baseline: {}, updatedAt: now, endedAt: null, endReason: null,
    });
    this.audit(actor.id, 'workorder.create', wo, { procedure: `${v.procedureId}@${v.version}`, bindings: wo.bindings, window: [wo.windowStart, wo.windowEnd], assignees: wo.assignees });
    await this.o.store.appendStepEvent({ workOrderId: wo.id, at: now, kind: 'created', step: null, actor: actor.id, detail: {} });
    this.changed('work-orders');
    return wo;
  }

  async approveWorkOrder(id: number, actor: ProcedureActor): Promise<WorkOrder> {
    requireActorRole(actor, MANAGER_ROLES, 'approve a work order');
    const wo = await this.get(id);
    if (wo.status !== 'draft') throw stateError(wo, 'approve');
    if (wo.createdBy === actor.name) throw new ProcedureError('approval_by_author', `${actor.name} created work order ${id}: someone else must approve it (two-person rule)`);
    const now = this.o.now();
    Object.assign(wo, { status: 'approved', approvedBy: actor.name, updatedAt: now });
    await this.o.store.saveWorkOrder(wo);
    await this.o.store.appendStepEvent({ workOrderId: id, at: now, kind: 'approved', step: null, actor: actor.id, detail: {} });
    this.audit(actor.id, 'workorder.approve', wo, {});
    this.changed('work-orders');
    return wo;
  }

  /** Releases the steps to the panels: they show "released", and opening them is covered in the window. */
  async releaseWorkOrder(id: number, actor: ProcedureActor): Promise<WorkOrder> {
    requireActorRole(actor, PLANNER_ROLES, 'release a work order');
    const wo = await this.get(id);
    if (wo.status !== 'approved') throw stateError(wo, 'release');
    const now = this.o.now();
    if (wo.windowEnd <= now) throw new ProcedureError('work_order_state', `work order ${id}'s window has ended; create a new one`);
    if (this.stops.has(wo.site)) throw new ProcedureError('site_stopped', `work at ${wo.site} is stopped: resume the site first`);
    const v = await this.o.library.approved(wo.procedureId, wo.version);
    for (const other of this.active.values()) {
      if (other.wo.site !== wo.site || other.wo.windowEnd <= wo.windowStart || other.wo.windowStart >= wo.windowEnd) continue;
      const shared = v.template.panels.map((r) => wo.bindings[r]).filter((p) => other.template.panels.some((r) => other.wo.bindings[r] === p));
      if (shared.length > 0) throw new ProcedureError('panel_busy', `${shared.join(', ')} already released to work order ${other.wo.id} in an overlapping window`);
    }
    const baseline: Record<string, boolean> = {};
    for (const role of v.template.panels) {
      for (const [point, value] of this.latest.get(key(wo.site, wo.bindings[role]!)) ?? []) {
        if (typeof value === 'boolean' && point !== DOOR_POINT) baseline[`${role}.${point}`] = value;
      }
    }
    Object.assign(wo, { status: 'released', releasedBy: actor.name, releasedAt: now, baseline, updatedAt: now });
    await this.o.store.saveWorkOrder(wo);
    await this.o.store.appendStepEvent({ workOrderId: id, at: now, kind: 'released', step: null, actor: actor.id, detail: { baseline } });
    this.audit(actor.id, 'workorder.release', wo, { panels: v.template.panels.map((r) => wo.bindings[r]) });
    const a: Active = { wo, template: v.template, lastStepDoneAt: null, holdSince: null, suppressed: false };
    this.active.set(id, a);
    this.applySuppression(a, now);
    this.signalSite(wo.site);
    this.changed('work-orders');
    return wo;
  }

  /** The technician starts (also started by the first step observed at the panel). */
  async startWorkOrder(id: number, actor: ProcedureActor): Promise<WorkOrder> {
    const a = this.activeOf(id);
    this.requireWorker(a.wo, actor);
    if (a.wo.status !== 'released') throw stateError(a.wo, 'start');
    const now = this.o.now();
    if (now < a.wo.windowStart) throw new ProcedureError('work_order_state', `work order ${id}'s window opens at ${new Date(a.wo.windowStart).toISOString()}`);
    this.startIfReleased(a, actor.id, now);
    this.signalSite(a.wo.site);
    await this.flush();
    return a.wo;
  }

  /** A technician confirms the current confirm step. */
  async confirmStep(id: number, step: number, actor: ProcedureActor, note = ''): Promise<WorkOrder> {
    const a = this.activeOf(id);
    this.requireWorker(a.wo, actor);
    if (this.stops.has(a.wo.site)) throw new ProcedureError('site_stopped', `work at ${a.wo.site} is stopped`);
    if (a.wo.hold) throw new ProcedureError('work_order_state', `work order ${id} is paused for a deviation: a manager must acknowledge it first`);
    if (a.wo.status !== 'in-progress' && a.wo.status !== 'released') throw stateError(a.wo, 'confirm a step of');
    const current = a.template.steps[a.wo.currentStep];
    if (step !== a.wo.currentStep + 1 || current?.kind !== 'confirm') {
      throw new ProcedureError('step_mismatch', `step ${step} cannot be confirmed: the current step is ${current ? describeStep(current, a.wo.currentStep) : 'none'}`);
    }
    requireActorRole(actor, current.roles as ProcedureActor['role'][], `confirm "${current.title}"`);
    const now = this.o.now();
    this.startIfReleased(a, actor.id, now);
    this.log(a.wo, 'confirmed', a.wo.currentStep, actor.id, { note: note.slice(0, 1000) }, now);
    this.stepDone(a, actor.id, { confirmedBy: actor.name }, now);
    this.signalSite(a.wo.site);
    await this.flush();
    return a.wo;
  }

  /** A manager acknowledges a deviation with a reason: the klaxon stops, the work resumes at the expected step, the evidence stays. */
  async acknowledgeDeviation(deviationId: number, reason: string, actor: ProcedureActor): Promise<Deviation> {
    requireActorRole(actor, MANAGER_ROLES, 'acknowledge a deviation');
    const why = requireReason(reason, 'acknowledging a deviation');
    const d = this.openDeviations.get(deviationId);
    if (!d) throw new ProcedureError('deviation_not_found', `no unacknowledged deviation ${deviationId}`);
    const now = this.o.now();
    Object.assign(d, { acknowledgedBy: actor.name, acknowledgedAt: now, reason: why });
    this.openDeviations.delete(d.id);
    this.write(() => this.o.store.saveDeviation({ ...d }));
    const a = this.active.get(d.workOrderId);
    if (a && a.wo.hold?.deviationId === d.id) {
      a.wo.hold = null;
      a.wo.operatedAt = null;
      a.wo.stepSince = now;
      a.holdSince = null;
      this.log(a.wo, 'acknowledged', d.step, actor.id, { deviationId: d.id, reason: why }, now);
      this.save(a.wo, now);
    }
    for (const p of this.panelsOf(a)) this.silencedAt.set(key(d.site, p), now);
    this.recordAudit({ actor: actor.id, action: 'workorder.deviation.acknowledge', target: `workorder:${d.workOrderId}`, detail: { deviationId: d.id, kind: d.kind, reason: why } });
    this.signalSite(d.site);
    this.changed('work-orders');
    await this.flush();
    return d;
  }

  async abortWorkOrder(id: number, reason: string, actor: ProcedureActor): Promise<WorkOrder> {
    requireActorRole(actor, PLANNER_ROLES, 'abort a work order');
    const why = requireReason(reason, 'aborting a work order');
    const a = this.active.get(id);
    if (!a) {
      const wo = await this.get(id);
      if (wo.status !== 'draft' && wo.status !== 'approved') throw stateError(wo, 'abort');
      const now = this.o.now();
      Object.assign(wo, { status: 'aborted', endedAt: now, endReason: why, updatedAt: now });
      await this.o.store.saveWorkOrder(wo);
      await this.o.store.appendStepEvent({ workOrderId: id, at: now, kind: 'aborted', step: null, actor: actor.id, detail: { reason: why } });
      this.audit(actor.id, 'workorder.abort', wo, { reason: why });
      this.changed('work-orders');
      return wo;
    }
    this.end(a, 'aborted', actor.id, why, this.o.now());
    await this.flush();
    return a.wo;
  }

  /** A security alert silenced by a manager with a reason: the tower and the guardian's own klaxon stop; the alert and its incident stay. */
  async silenceAlert(alertId: number, reason: string, actor: ProcedureActor): Promise<PanelAlert> {
    requireActorRole(actor, MANAGER_ROLES, 'silence a panel alert');
    const why = requireReason(reason, 'silencing a panel alert');
    const alert = this.alerts.get(alertId);
    if (!alert) throw new ProcedureError('alert_not_found', `no unsilenced panel alert ${alertId}`);
    const now = this.o.now();
    Object.assign(alert, { silencedBy: actor.name, silencedAt: now, reason: why });
    this.alerts.delete(alertId);
    this.silencedAt.set(key(alert.site, alert.panel), now);
    this.write(() => this.o.store.saveAlert({ ...alert }));
    this.recordAudit({ actor: actor.id, action: 'panel.alert.silence', target: `panel:${alert.site}/${alert.panel}`, detail: { alertId, kind: alert.kind, reason: why, incidentId: alert.incidentId } });
    this.signalSite(alert.site);
    this.changed('panels');
    await this.flush();
    return alert;
  }

  /** A manager stops all work at a site: every released work order pauses, every panel shows stop. */
  async stopSite(site: string, reason: string, actor: ProcedureActor): Promise<SiteStop> {
    requireActorRole(actor, MANAGER_ROLES, 'stop work at a site');
    const why = requireReason(reason, 'stopping a site');
    if (this.stops.has(site)) throw new ProcedureError('site_stopped', `work at ${site} is already stopped`);
    const stop: SiteStop = { site, by: actor.name, at: this.o.now(), reason: why };
    this.stops.set(site, stop);
    this.write(() => this.o.store.setSiteStop(site, stop));
    for (const a of this.active.values()) if (a.wo.site === site) this.log(a.wo, 'paused', a.wo.currentStep, actor.id, { reason: why }, stop.at);
    this.recordAudit({ actor: actor.id, action: 'site.stop', target: `site:${site}`, detail: { reason: why } });
    this.signalSite(site);
    this.changed('panels');
    this.changed('work-orders');
    await this.flush();
    return stop;
  }

  async resumeSite(site: string, reason: string, actor: ProcedureActor): Promise<void> {
    requireActorRole(actor, MANAGER_ROLES, 'resume work at a site');
    const why = requireReason(reason, 'resuming a site');
    if (!this.stops.has(site)) throw new ProcedureError('site_not_stopped', `work at ${site} is not stopped`);
    this.stops.delete(site);
    const now = this.o.now();
    this.write(() => this.o.store.setSiteStop(site, null));
    for (const a of this.active.values()) {
      if (a.wo.site !== site) continue;
      a.wo.stepSince = now; // deadlines restart: the pause is not the technician's time
      this.log(a.wo, 'resumed', a.wo.currentStep, actor.id, { reason: why }, now);
      this.save(a.wo, now);
    }
    this.recordAudit({ actor: actor.id, action: 'site.resume', target: `site:${site}`, detail: { reason: why } });
    this.signalSite(site);
    this.changed('panels');
    this.changed('work-orders');
    await this.flush();
  }

  // ------------------------------------------------------------------ views

  async listWorkOrders(filter: { site?: string; status?: WorkOrder['status']; active?: boolean; limit?: number }): Promise<WorkOrder[]> {
    await this.flush();
    return this.o.store.workOrders(filter);
  }

  async detail(id: number): Promise<WorkOrderDetail> {
    await this.flush();
    const wo = this.active.get(id)?.wo ?? await this.get(id);
    const v = await this.o.library.get(wo.procedureId, wo.version);
    const step = v.template.steps[wo.currentStep];
    const readings: WorkOrderDetail['readings'] = [];
    for (const [role, asset] of Object.entries(wo.bindings)) {
      for (const [point, value] of this.latest.get(key(wo.site, asset)) ?? []) {
        readings.push({ role, asset, point, value: typeof value === 'number' || typeof value === 'boolean' ? value : null });
      }
    }
    return {
      workOrder: wo, template: v.template,
      paused: wo.hold !== null || (this.stops.has(wo.site) && this.active.has(id)),
      stopped: this.stops.get(wo.site) ?? null,
      expected: step && this.active.has(id) ? describeStep(step, wo.currentStep) : null,
      steps: await this.o.store.stepEvents(id),
      deviations: await this.o.store.deviations({ workOrderId: id }),
      readings,
    };
  }

  /** Every panel known at the site(s), with what its tower shows and why. */
  panelBoard(site?: string): PanelView[] {
    const now = this.o.now();
    const out: PanelView[] = [];
    for (const s of site !== undefined ? [site] : this.sites()) {
      for (const panel of this.o.directory.panels(s)) {
        const values = this.latest.get(key(s, panel));
        const breakers: Record<string, boolean> = {};
        for (const [p, v] of values ?? []) if (p !== DOOR_POINT && typeof v === 'boolean') breakers[p] = v;
        const door = values?.get(DOOR_POINT);
        const cov = this.covering(s, panel, now);
        out.push({
          site: s, panel, signal: this.signalOf(s, panel, now), door: typeof door === 'boolean' ? door : null, breakers,
          alert: this.alertOn(s, panel) ?? null,
          workOrder: cov ? { id: cov.a.wo.id, title: cov.a.wo.title, status: cov.a.wo.status, assignees: cov.a.wo.assignees } : null,
        });
      }
    }
    return out;
  }

  openAlerts(site?: string): PanelAlert[] {
    return [...this.alerts.values()].filter((a) => site === undefined || a.site === site);
  }

  siteStops(): SiteStop[] {
    return [...this.stops.values()];
  }

  // ------------------------------------------------------------------ internals

  private async get(id: number): Promise<WorkOrder> {
    const wo = await this.o.store.getWorkOrder(id);
    if (!wo) throw new ProcedureError('work_order_not_found', `no work order ${id}`, { workOrderId: id });
    return wo;
  }

  private activeOf(id: number): Active {
    const a = this.active.get(id);
    if (!a) throw new ProcedureError('work_order_state', `work order ${id} is not released or in progress`);
    return a;
  }

  private requireWorker(wo: WorkOrder, actor: ProcedureActor): void {
    if (actor.role === 'admin' || (actor.role === 'technician' && wo.assignees.includes(actor.name))) return;
    throw new ProcedureError('role_required', `only the technicians assigned to work order ${wo.id} (${wo.assignees.join(', ')}) may do its steps`);
  }

  private isBound(site: string, asset: string): boolean {
    for (const a of this.active.values()) if (a.wo.site === site && Object.values(a.wo.bindings).includes(asset)) return true;
    return false;
  }

  /** The work order covering a panel at a time: released or in progress, bound to it, in its window (in progress: until it ends). */
  private covering(site: string, panel: string, at: number): { a: Active; role: string } | undefined {
    for (const a of this.active.values()) {
      if (a.wo.site !== site) continue;
      const role = a.template.panels.find((r) => a.wo.bindings[r] === panel);
      if (role === undefined) continue;
      if (a.wo.status === 'in-progress' || (a.wo.status === 'released' && at >= a.wo.windowStart && at <= a.wo.windowEnd)) return { a, role };
    }
    return undefined;
  }

  private startIfReleased(a: Active, actor: string, at: number): void {
    if (a.wo.status !== 'released') return;
    a.wo.status = 'in-progress';
    a.wo.stepSince = at;
    this.log(a.wo, 'started', 0, actor, {}, at);
    this.save(a.wo, at);
    this.recordAudit({ actor, action: 'workorder.start', target: `workorder:${a.wo.id}`, detail: {} });
  }

  private stepDone(a: Active, actor: string, detail: Record<string, unknown>, at: number): void {
    const i = a.wo.currentStep;
    const step = a.template.steps[i]!;
    this.log(a.wo, 'step-done', i, actor, { title: step.title, ...detail }, at);
    this.recordAudit({ actor, action: 'workorder.step', target: `workorder:${a.wo.id}`, detail: { step: i + 1, kind: step.kind, title: step.title } });
    a.wo.currentStep = i + 1;
    a.wo.stepSince = at;
    a.wo.operatedAt = null;
    a.holdSince = null;
    a.lastStepDoneAt = at;
    if (a.wo.currentStep >= a.template.steps.length) {
      this.end(a, 'completed', actor, 'all steps done', at);
      return;
    }
    this.save(a.wo, at);
    this.changed('work-orders');
  }

  private deviate(a: Active, panel: string, kind: DeviationKind, expected: string, observed: string, at: number): void {
    const wo = a.wo;
    if (wo.hold) return;
    const d: Omit<Deviation, 'id'> = {
      workOrderId: wo.id, site: wo.site, panel, step: wo.currentStep, kind, expected, observed, at,
      incidentId: null, acknowledgedBy: null, acknowledgedAt: null, reason: null,
    };
    // The hold is decided now (the tower turns red at once); the record gets its id when written.
    wo.hold = { kind: 'deviation', deviationId: -1, since: at };
    this.signalSite(wo.site);
    this.write(async () => {
      const saved = await this.o.store.insertDeviation(d);
      if (wo.hold?.deviationId === -1) wo.hold.deviationId = saved.id;
      this.openDeviations.set(saved.id, saved);
      await this.o.store.appendStepEvent({ workOrderId: wo.id, at, kind: 'deviation', step: wo.currentStep, actor: SYSTEM, detail: { deviationId: saved.id, kind, expected, observed, panel } });
      await this.o.store.saveWorkOrder(wo);
      await this.o.audit.record({ actor: SYSTEM, action: 'workorder.deviation', target: `workorder:${wo.id}`, detail: { deviationId: saved.id, kind, panel, step: wo.currentStep + 1, expected, observed } });
      const incidentId = await this.o.incidents.open({
        kind: 'procedure.deviation', severity: 'high', site: wo.site, asset: panel, reason: kind,
        summary: `Deviation on ${panel} in work order ${wo.id} (${wo.title}): ${observed}`,
        assignee: await this.o.managerOf(wo.site), at, captureAssets: [...new Set(Object.values(wo.bindings))],
        detail: {
          workOrderId: wo.id, procedure: `${wo.procedureId}@${wo.version}`, step: wo.currentStep + 1, expected, observed,
          assignees: wo.assignees, stepLog: await this.o.store.stepEvents(wo.id), readingsBefore: this.snapshotOf(wo.site, Object.values(wo.bindings)),
        },
      });
      saved.incidentId = incidentId;
      await this.o.store.saveDeviation(saved);
      this.changed('work-orders');
    }, 'record a deviation');
  }

  private raiseAlert(site: string, panel: string, kind: PanelAlertKind, point: string, at: number): void {
    if (this.alertOn(site, panel)) return; // one alert per panel until silenced; the edges are in the telemetry
    const alert: PanelAlert = { id: -1, site, panel, kind, point, at, incidentId: null, silencedBy: null, silencedAt: null, reason: null };
    const pendingKey = -(++this.pendingAlerts); // a placeholder id until the store assigns one
    this.alerts.set(pendingKey, alert);
    this.signalSite(site);
    this.changed('panels');
    const nearby = [...this.active.values()].filter((a) => a.wo.site === site).map((a) => ({
      workOrderId: a.wo.id, title: a.wo.title, status: a.wo.status, assignees: a.wo.assignees,
      panels: a.template.panels.map((r) => a.wo.bindings[r]),
    }));
    this.write(async () => {
      const { id: _placeholder, ...rest } = alert;
      const saved = await this.o.store.insertAlert(rest);
      alert.id = saved.id;
      this.alerts.delete(pendingKey);
      if (alert.silencedAt === null) this.alerts.set(saved.id, alert);
      await this.o.audit.record({ actor: SYSTEM, action: 'panel.intrusion', target: `panel:${site}/${panel}`, detail: { alertId: saved.id, kind, point, at } });
      const what = kind === 'door-opened-uncovered' ? 'door opened' : `${point} operated`;
      alert.incidentId = await this.o.incidents.open({
        kind: 'panel.intrusion', severity: 'critical', site, asset: panel, reason: kind,
        summary: `Panel ${panel} ${what} with no released work order for it`,
        assignee: await this.o.managerOf(site), at, captureAssets: [panel],
        detail: { panel, point, at, workOrdersNearby: nearby, readingsBefore: this.snapshotOf(site, [panel]) },
      });
      await this.o.store.saveAlert({ ...alert });
      this.changed('panels');
    }, 'record a panel alert');
  }

  private end(a: Active, status: 'completed' | 'aborted', actor: string, reason: string, at: number): void {
    const wo = a.wo;
    Object.assign(wo, { status, endedAt: at, endReason: reason, hold: status === 'aborted' ? null : wo.hold });
    this.active.delete(wo.id);
    if (status === 'completed') this.recentlyCompleted.set(wo.id, a);
    this.applySuppression(a, at);
    this.log(wo, status, null, actor, { reason }, at);
    this.save(wo, at);
    this.recordAudit({ actor, action: status === 'completed' ? 'workorder.complete' : 'workorder.abort', target: `workorder:${wo.id}`, detail: { reason } });
    this.signalSite(wo.site);
    this.changed('work-orders');
  }

  /** Suppresses the expected-change points while the work order covers its panels; lifts it otherwise. */
  private applySuppression(a: Active, now: number): void {
    const wo = a.wo;
    const on = this.active.has(wo.id) && (wo.status === 'in-progress' || (wo.status === 'released' && now >= wo.windowStart && now <= wo.windowEnd));
    if (on === a.suppressed) return;
    a.suppressed = on;
    const points = on
      ? expectedChanges(a.template).flatMap(({ role, point }) => (wo.bindings[role] ? [{ site: wo.site, asset: wo.bindings[role]!, point }] : []))
      : [];
    try {
      this.o.suppression.setDesignSuppression(`workorder:${wo.id}`, points, SYSTEM);
    } catch (err) {
      this.o.onError?.(err, 'suppress the expected alarms');
    }
  }

  private alertOn(site: string, panel: string): PanelAlert | undefined {
    for (const a of this.alerts.values()) if (a.site === site && a.panel === panel) return a;
    return undefined;
  }

  private panelsOf(a: Active | undefined): string[] {
    return a ? a.template.panels.map((r) => a.wo.bindings[r]!).filter(Boolean) : [];
  }

  private signalOf(site: string, panel: string, now: number): PanelSignal {
    const cov = this.covering(site, panel, now);
    let completed: WorkOrder | undefined;
    for (const c of this.recentlyCompleted.values()) if (c.wo.site === site && this.panelsOf(c).includes(panel)) completed = c.wo;
    return panelSignal({
      panel, stopped: this.stops.has(site), alert: this.alertOn(site, panel), now, completed,
      covering: cov && { wo: cov.a.wo, template: cov.a.template, role: cov.role, lastStepDoneAt: cov.a.lastStepDoneAt },
    });
  }

  /** Sends each panel of a site its instruction when it changed (or on a refresh). */
  private signalSite(site: string, refresh = false): void {
    const now = this.o.now();
    let any = false;
    for (const panel of this.o.directory.panels(site)) {
      const s = this.signalOf(site, panel, now);
      const k = key(site, panel);
      const silenced = this.silencedAt.get(k);
      const clearLocal = silenced !== undefined && now - silenced < (this.o.clearLocalMs ?? 60_000) && s.state !== 'intrusion';
      if (silenced !== undefined && !clearLocal) this.silencedAt.delete(k);
      const fingerprint = JSON.stringify([s, clearLocal]);
      if (!refresh && this.lastSent.get(k) === fingerprint) continue;
      any ||= this.lastSent.get(k) !== fingerprint;
      this.lastSent.set(k, fingerprint);
      try {
        this.o.signal(site, {
          panel, state: s.state, covered: s.covered, seq: ++this.seq, at: now,
          ...(s.workOrderId !== undefined ? { workOrderId: s.workOrderId } : {}),
          ...(s.step ? { step: { ...s.step, title: s.step.title.slice(0, 200) } } : {}),
          ...(s.reason ? { reason: s.reason } : {}),
          ...(clearLocal ? { clearLocal: true } : {}),
        });
      } catch (err) {
        this.o.onError?.(err, `signal panel ${panel}`);
      }
    }
    if (any) this.changed('panels');
  }

  private sites(): string[] {
    const s = new Set<string>();
    for (const k of this.latest.keys()) s.add(k.split('\0')[0]!);
    for (const a of this.active.values()) s.add(a.wo.site);
    for (const a of this.alerts.values()) s.add(a.site);
    for (const site of this.stops.keys()) s.add(site);
    return [...s];
  }

  private snapshotOf(site: string, assets: string[]): Record<string, Record<string, Sample['value']>> {
    const out: Record<string, Record<string, Sample['value']>> = {};
    for (const asset of assets) out[asset] = Object.fromEntries(this.latest.get(key(site, asset)) ?? []);
    return out;
  }

  private log(wo: WorkOrder, kind: StepEventKind, step: number | null, actor: string, detail: Record<string, unknown>, at: number): void {
    this.write(() => this.o.store.appendStepEvent({ workOrderId: wo.id, at, kind, step, actor, detail }), 'write the step log');
  }

  private save(wo: WorkOrder, at: number): void {
    wo.updatedAt = at;
    const copy = structuredClone(wo);
    this.write(() => this.o.store.saveWorkOrder(copy), 'save a work order');
  }

  private audit(actor: string, action: string, wo: WorkOrder, detail: Record<string, unknown>): void {
    this.recordAudit({ actor, action, target: `workorder:${wo.id}`, detail: { site: wo.site, ...detail } });
  }

  /** Audit events join the write queue: in order with the writes they record, a failure reported like theirs. */
  private recordAudit(event: AuditEventInput): void {
    this.write(() => this.o.audit.record(event), 'record an audit event');
  }

  /** Writes in order; a failed write is reported and does not stop the ones after it. */
  private write(fn: () => Promise<unknown>, what = 'write'): void {
    this.writes = this.writes.then(fn).catch((err: unknown) => this.o.onError?.(err, what));
  }

  private changed(what: 'work-orders' | 'panels'): void {
    this.o.onChanged?.(what);
  }
}

function stateError(wo: WorkOrder, action: string): ProcedureError {
  return new ProcedureError('work_order_state', `cannot ${action} work order ${wo.id}: it is ${wo.status}`, { workOrderId: wo.id, status: wo.status });
}
