/**
 * What a panel's signal tower shows, decided from the domain state: pure, so the precedence is
 * tested in one place. Precedence (highest first): site stop, an unsilenced security alert on
 * the panel, an unacknowledged deviation of the work covering it, then the work's progress.
 */
import type { AndonState } from '@shellguard/protocol';
import type { PanelAlert, WorkOrder } from './procedure-model.ts';
import type { ProcedureTemplate } from './procedure-template.ts';

/** How long "step done" shows before the next step's "in progress" (ms). */
export const STEP_DONE_SHOW_MS = 3_000;
/** How long "complete" shows after the last step (ms). */
export const COMPLETE_SHOW_MS = 60_000;

export interface PanelSignal {
  state: AndonState;
  /** A released work order covers opening this panel now. */
  covered: boolean;
  workOrderId?: number;
  step?: { index: number; count: number; title: string };
  reason?: string;
}

export interface PanelSituation {
  panel: string;
  stopped: boolean;
  alert: PanelAlert | undefined;
  /** The work order covering the panel now (released or in progress, window open), if any. */
  covering: { wo: WorkOrder; template: ProcedureTemplate; role: string; lastStepDoneAt: number | null } | undefined;
  /** A work order on this panel that completed recently. */
  completed: WorkOrder | undefined;
  now: number;
}

export function panelSignal(s: PanelSituation): PanelSignal {
  const c = s.covering;
  const base = c ? { workOrderId: c.wo.id } : {};
  if (s.stopped) return { state: 'stop', covered: false, ...base, reason: 'site stopped' };
  if (s.alert) return { state: 'intrusion', covered: c !== undefined, ...base, reason: s.alert.kind };
  if (c) {
    const count = c.template.steps.length;
    const i = Math.min(c.wo.currentStep, count - 1);
    const step = { index: i + 1, count, title: c.template.steps[i]?.title ?? '' };
    if (c.wo.hold) return { state: 'deviation', covered: true, ...base, step, reason: 'deviation' };
    if (c.wo.status === 'released') return { state: 'released', covered: true, ...base, step };
    const here = c.template.steps[c.wo.currentStep]?.panel === c.role;
    if (c.lastStepDoneAt !== null && s.now - c.lastStepDoneAt < STEP_DONE_SHOW_MS) return { state: 'step-done', covered: true, ...base, step };
    return { state: here ? 'in-progress' : 'released', covered: true, ...base, step };
  }
  if (s.completed && s.completed.endedAt !== null && s.now - s.completed.endedAt < COMPLETE_SHOW_MS) {
    return { state: 'complete', covered: false, workOrderId: s.completed.id };
  }
  return { state: 'idle', covered: false };
}
