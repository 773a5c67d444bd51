/**
 * Judges what a panel shows against the current step of a work order: pure functions, so every
 * deviation kind is tested without a clock, a socket or a database.
 *
 * The rule for a door or a breaker edge: if it is what the current step asks for, the step is
 * done; if it moves the contact back to the state the procedure expects by now (a technician
 * re-opening a door closed by mistake, a breaker restored after a deviation), it is accepted
 * and logged; otherwise it is a deviation — out of order when a later step asks for exactly it,
 * unexpected when none does.
 */
import type { DeviationKind, WorkOrder } from './procedure-model.ts';
import type { PointCondition, ProcedureStep, ProcedureTemplate } from './procedure-template.ts';

export const DOOR_POINT = 'door_open';

export interface PanelEdge {
  /** Template role of the panel (already resolved from the asset id). */
  role: string;
  point: string;
  value: boolean;
}

export type Judgement =
  | { kind: 'step-done' }
  /** An operate step's operation happened; its expected changes are awaited. */
  | { kind: 'operated' }
  | { kind: 'accepted'; note: string }
  | { kind: 'deviation'; deviation: DeviationKind; expected: string; observed: string };

/** What a person reads for a step ("open breaker_3_closed on source"). */
export function describeStep(s: ProcedureStep, index: number): string {
  const n = `step ${index + 1} (${s.title})`;
  switch (s.kind) {
    case 'open-panel': return `${n}: open the door of panel ${s.panel}`;
    case 'close-panel': return `${n}: close the door of panel ${s.panel}`;
    case 'operate': return `${n}: turn ${s.point} on panel ${s.panel} ${s.to === 'open' ? 'off (open)' : 'on (closed)'}`;
    case 'verify': return `${n}: verify ${s.conditions.map(describeCondition).join(' and ')}`;
    case 'confirm': return `${n}: confirm "${s.prompt}"`;
  }
}

export function describeCondition(c: PointCondition): string {
  const parts = [c.below !== undefined ? `below ${c.below}` : '', c.above !== undefined ? `above ${c.above}` : ''].filter(Boolean);
  return `${c.asset}.${c.point} ${parts.join(' and ')}`;
}

function describeEdge(e: PanelEdge): string {
  if (e.point === DOOR_POINT) return `the door of panel ${e.role} ${e.value ? 'opened' : 'closed'}`;
  return `${e.point} on panel ${e.role} turned ${e.value ? 'on (closed)' : 'off (open)'}`;
}

/** Door state the procedure expects on a panel before step `index` (true = open). */
export function expectedDoor(t: ProcedureTemplate, role: string, index: number): boolean {
  let open = false;
  for (const s of t.steps.slice(0, index)) {
    if (s.panel !== role) continue;
    if (s.kind === 'open-panel') open = true;
    else if (s.kind === 'close-panel') open = false;
  }
  return open;
}

/** Breaker state the procedure expects before step `index`: the baseline, then the operations done. */
export function expectedBreaker(t: ProcedureTemplate, wo: Pick<WorkOrder, 'baseline'>, role: string, point: string, index: number): boolean | undefined {
  let state: boolean | undefined = wo.baseline[`${role}.${point}`];
  for (const s of t.steps.slice(0, index)) {
    if (s.kind === 'operate' && s.panel === role && s.point === point) state = s.to === 'closed';
  }
  return state;
}

function asks(s: ProcedureStep, e: PanelEdge): boolean {
  if (s.panel !== e.role) return false;
  if (e.point === DOOR_POINT) return (s.kind === 'open-panel' && e.value) || (s.kind === 'close-panel' && !e.value);
  return s.kind === 'operate' && s.point === e.point && (s.to === 'closed') === e.value;
}

/**
 * Judges a door or breaker edge on a panel the work order binds. `awaitingExpect` is true when
 * the current operate step already happened and its expected changes are awaited.
 */
export function judgeEdge(t: ProcedureTemplate, wo: Pick<WorkOrder, 'currentStep' | 'baseline'>, e: PanelEdge, awaitingExpect: boolean): Judgement {
  const i = wo.currentStep;
  const current = t.steps[i];
  if (current && !awaitingExpect && asks(current, e)) return current.kind === 'operate' && current.expect.length > 0 ? { kind: 'operated' } : { kind: 'step-done' };
  const expected = e.point === DOOR_POINT ? expectedDoor(t, e.role, awaitingExpect ? i + 1 : i) : expectedBreaker(t, wo, e.role, e.point, awaitingExpect ? i + 1 : i);
  const observed = describeEdge(e);
  if (expected === e.value) return { kind: 'accepted', note: `${observed}, back to what the procedure expects` };
  const expectedText = current ? describeStep(current, i) : 'no further step';
  const later = t.steps.findIndex((s, j) => j > i && asks(s, e));
  if (later >= 0) {
    return { kind: 'deviation', deviation: 'out-of-order', expected: expectedText, observed: `${observed}: that is step ${later + 1}, steps ${i + 1}–${later} were not done` };
  }
  return { kind: 'deviation', deviation: e.point === DOOR_POINT ? 'door-unexpected' : 'unexpected-operation', expected: expectedText, observed };
}

/** Whether every condition holds on the latest readings; `undefined` readings do not hold. */
export function conditionsHold(conds: readonly PointCondition[], reading: (asset: string, point: string) => number | undefined): boolean {
  return conds.every((c) => {
    const v = reading(c.asset, c.point);
    if (v === undefined || !Number.isFinite(v)) return false;
    return (c.below === undefined || v < c.below) && (c.above === undefined || v > c.above);
  });
}

/** The readings of the conditions' points, for what the technician and the review see. */
export function describeReadings(conds: readonly PointCondition[], reading: (asset: string, point: string) => number | undefined): string {
  return conds.map((c) => {
    const v = reading(c.asset, c.point);
    return `${c.asset}.${c.point} = ${v === undefined ? 'no reading' : Number(v.toFixed(2))}`;
  }).join(', ');
}
