/**
 * Pure reading of a procedure for the technician: what a step expects to change, in words with
 * units, which points of the bound assets the procedure reads, and each step-log line in words.
 * The server's own sentence for the current step (`expected`, step-judge.ts describeStep) is shown
 * as well; these add the detail a person checks against the panel.
 */
import type { DmopWorkOrderDetail, PointCondition, ProcedureStep, ProcedureTemplate, StepEvent } from '../../app/api-types.ts';
import { formatValue } from '../../app/format.ts';
import { breakerName } from '../panels/panel-contacts.tsx';

export const DOOR_POINT = 'door_open';

/** `role\0point` → unit, from the bound assets' point lists. */
export type Units = ReadonlyMap<string, string>;
export const unitKey = (role: string, point: string) => `${role}\u0000${point}`;

function limits(c: Pick<PointCondition, 'below' | 'above'>, unit: string): string {
  const u = unit ? ` ${unit}` : '';
  return [c.below !== undefined ? `below ${c.below}${u}` : '', c.above !== undefined ? `above ${c.above}${u}` : ''].filter(Boolean).join(' and ');
}

/**
 * Conditions in words, points with the same limits on the same asset together:
 * "current_l1, current_l2, current_l3 on PANEL-1 below 1 A".
 */
export function describeConditions(conds: readonly PointCondition[], bindings: Record<string, string>, units: Units): string[] {
  const groups = new Map<string, { asset: string; points: string[]; c: PointCondition }>();
  for (const c of conds) {
    const k = `${c.asset}\u0000${c.below ?? ''}\u0000${c.above ?? ''}`;
    const g = groups.get(k);
    if (g) g.points.push(c.point);
    else groups.set(k, { asset: c.asset, points: [c.point], c });
  }
  return [...groups.values()].map((g) => {
    const unit = units.get(unitKey(g.asset, g.points[0]!)) ?? '';
    return `${g.points.join(', ')} on ${bindings[g.asset] ?? g.asset} ${limits(g.c, unit)}`;
  });
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** What the panel or the measurements must show for the step to be done. */
export function expectedChanges(step: ProcedureStep, bindings: Record<string, string>, units: Units): string[] {
  const panel = bindings[step.panel] ?? step.panel;
  switch (step.kind) {
    case 'open-panel': return [`The door of ${panel} opens.`];
    case 'close-panel': return [`The door of ${panel} closes.`];
    case 'operate': {
      const out = [`${breakerName(step.point)} on ${panel} goes ${step.to === 'open' ? 'open (off)' : 'closed (on)'}.`];
      const then = describeConditions(step.expect, bindings, units);
      if (then.length > 0) out.push(`Then within ${seconds(step.expectWithinMs)}: ${then.join('; ')}.`);
      return out;
    }
    case 'verify': return [
      `${describeConditions(step.conditions, bindings, units).join('; ')}, held for ${seconds(step.holdMs)}.`,
      `Within ${seconds(step.withinMs)} of the step starting, or it is a deviation.`,
    ];
    case 'confirm': return [`You confirm: "${step.prompt}".`];
  }
}

export interface ProcedurePoint {
  role: string;
  point: string;
  /** 0-based steps that read or operate it. */
  steps: number[];
}

/** Every point a step operates or reads, in order of first use. */
export function procedurePoints(t: ProcedureTemplate): ProcedurePoint[] {
  const out = new Map<string, ProcedurePoint>();
  const add = (role: string, point: string, i: number) => {
    const k = unitKey(role, point);
    const p = out.get(k);
    if (p) { if (!p.steps.includes(i)) p.steps.push(i); } else out.set(k, { role, point, steps: [i] });
  };
  t.steps.forEach((s, i) => {
    if (s.kind === 'operate') {
      add(s.panel, s.point, i);
      for (const c of s.expect) add(c.asset, c.point, i);
    } else if (s.kind === 'verify') {
      for (const c of s.conditions) add(c.asset, c.point, i);
    }
  });
  return [...out.values()];
}

export function readingOf(detail: Pick<DmopWorkOrderDetail, 'readings'>, role: string, point: string): number | boolean | null | undefined {
  return detail.readings.find((r) => r.role === role && r.point === point)?.value;
}

/** A reading in words: a door or breaker says what it means, a number gets its unit. */
export function readingText(point: string, value: number | boolean | null | undefined, unit: string): string {
  if (value === undefined || value === null) return 'no reading yet';
  if (typeof value === 'boolean') {
    if (point === DOOR_POINT) return value ? 'open' : 'closed';
    if (point.endsWith('_closed')) return value ? 'closed (on)' : 'open (off)';
    return value ? 'on' : 'off';
  }
  return formatValue(value, unit);
}

/** An edge the server observed (`observed` and `step-done` details carry point and value). */
function edgeWords(detail: Record<string, unknown>): string | null {
  if (typeof detail.point !== 'string' || typeof detail.value !== 'boolean') return null;
  const where = typeof detail.panel === 'string' ? ` on ${detail.panel}` : '';
  if (detail.point === DOOR_POINT) return `door ${detail.value ? 'opened' : 'closed'}${where}`;
  return `${breakerName(detail.point)} ${detail.value ? 'closed (on)' : 'opened (off)'}${where}`;
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);

export interface LogLine {
  headline: string;
  details: string[];
  tone: 'ok' | 'bad' | 'plain';
}

/** One step-log event in words. */
export function logLine(e: StepEvent, t: ProcedureTemplate | undefined): LogLine {
  const stepName = e.step !== null ? `step ${e.step + 1}${t?.steps[e.step] ? ` (${t.steps[e.step]!.title})` : ''}` : '';
  const d = e.detail;
  const details: string[] = [];
  const edge = edgeWords(d);
  if (edge) details.push(`Panel: ${edge}.`);
  for (const [key, label] of [['note', 'Note'], ['reason', 'Reason'], ['expected', 'Expected'], ['observed', 'Observed'], ['verified', 'Measured']] as const) {
    const v = key === 'observed' && typeof d.observed !== 'string' ? null : text(d[key]);
    if (v && !(key === 'note' && edge && v.startsWith(edge))) details.push(`${label}: ${v}`);
  }
  if (typeof d.confirmedBy === 'string') details.push(`Confirmed by ${d.confirmedBy}.`);
  switch (e.kind) {
    case 'created': return { headline: 'Work order created', details, tone: 'plain' };
    case 'approved': return { headline: 'Approved', details, tone: 'ok' };
    case 'released': return { headline: 'Released to the panels', details, tone: 'ok' };
    case 'started': return { headline: 'Work started', details, tone: 'plain' };
    case 'step-done': return { headline: `Done: ${stepName}`, details, tone: 'ok' };
    case 'confirmed': return { headline: `Confirmed: ${stepName}`, details, tone: 'ok' };
    case 'observed': return { headline: `Seen at the panel during ${stepName}`, details, tone: 'plain' };
    case 'deviation': return { headline: `Deviation at ${stepName}${text(d.kind) ? `: ${text(d.kind)}` : ''}`, details, tone: 'bad' };
    case 'acknowledged': return { headline: `Deviation acknowledged; work resumes at ${stepName}`, details, tone: 'ok' };
    case 'paused': return { headline: 'Paused: the site was stopped', details, tone: 'bad' };
    case 'resumed': return { headline: 'Resumed: the site may work again', details, tone: 'ok' };
    case 'completed': return { headline: 'Work order complete', details, tone: 'ok' };
    case 'aborted': return { headline: 'Work order aborted', details, tone: 'bad' };
    default: return { headline: `${e.kind}${stepName ? ` (${stepName})` : ''}`, details, tone: 'plain' };
  }
}

/** "user:tom" → "tom"; "system" stays. */
export function actorName(actor: string): string {
  return actor.startsWith('user:') ? actor.slice(5) : actor;
}
