/**
 * A procedure template (a digital method of procedure): ordered steps a technician follows at
 * one or more panels, written in YAML and validated strictly — a misspelt key or a step that can
 * never be observed is an error naming the field, never a default.
 *
 * A template names the assets it works on by role (`panels: [source]`, `assets: [feed]`); a work
 * order binds each role to a real asset. Steps say what the panel and the power monitoring points
 * must show, so the server can check the work as it happens:
 *
 *   open-panel      the panel's door contact opens
 *   operate         a breaker or switch goes to a state (`point: breaker_3_closed`, `to: open`),
 *                   and optionally expected changes follow within a time (`expect`)
 *   verify          a measurement condition holds for a time (NFPA 70E absence of voltage:
 *                   all three phases below 5 V for 3 s), within a deadline
 *   confirm         the technician confirms (e.g. lock-out/tag-out applied)
 *   close-panel     the panel's door contact closes
 */
import { parse as parseYaml } from 'yaml';
import { isValidId } from '@shellguard/protocol';
import { ProcedureError } from './procedure-error.ts';

export const STEP_KINDS = ['open-panel', 'operate', 'verify', 'confirm', 'close-panel'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** A point of a bound asset (`asset` is a role of the template; default: the step's panel). */
export interface PointRef {
  asset: string;
  point: string;
}

/** A condition on a numeric point: below and/or above a value. */
export interface PointCondition extends PointRef {
  below?: number;
  above?: number;
}

interface StepBase {
  kind: StepKind;
  title: string;
  /** Shown to the technician before the step (PPE, arc flash boundary, ...). */
  warnings: string[];
  /** Roles allowed to perform (or confirm) this step. */
  roles: string[];
  /** The panel role the step happens at. */
  panel: string;
}

export interface OpenPanelStep extends StepBase { kind: 'open-panel' }
export interface ClosePanelStep extends StepBase { kind: 'close-panel' }
export interface ConfirmStep extends StepBase { kind: 'confirm'; prompt: string }
export interface OperateStep extends StepBase {
  kind: 'operate';
  /** A binary point of the panel: a breaker's or switch's closed contact. */
  point: string;
  to: 'open' | 'closed';
  /** Changes the operation must cause (e.g. the feed's current falls below 1 A)... */
  expect: PointCondition[];
  /** ...within this time after the operation (ms). */
  expectWithinMs: number;
}
export interface VerifyStep extends StepBase {
  kind: 'verify';
  conditions: PointCondition[];
  /** Every condition must hold continuously this long (ms)... */
  holdMs: number;
  /** ...within this time from the step becoming current, or the verification failed (ms). */
  withinMs: number;
}
export type ProcedureStep = OpenPanelStep | ClosePanelStep | ConfirmStep | OperateStep | VerifyStep;

export interface ProcedureTemplate {
  /** Stable id across versions, e.g. isolate-pdu-feed. */
  id: string;
  title: string;
  description: string;
  /** Panel roles, in order; the first is the default for steps. */
  panels: string[];
  /** Other asset roles whose points the steps read (e.g. the PDU a feed supplies). */
  assets: string[];
  steps: ProcedureStep[];
}

const ROLES = new Set(['admin', 'engineer', 'technician', 'manager']);
const DEFAULT_ROLES = ['technician'];
const MAX_STEPS = 100;

class Reader {
  constructor(private readonly source: string) {}

  fail(at: string, message: string): never {
    throw new ProcedureError('procedure_invalid', `${this.source}: ${at ? `${at} ` : ''}${message}`, { field: at });
  }

  object(at: string, v: unknown, allowed: readonly string[]): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(at, 'must be a mapping');
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(at ? `${at}.${k}` : k, `is not a known field (known: ${allowed.join(', ')})`);
    }
    return o;
  }

  text(at: string, v: unknown, { optional = false, max = 500 } = {}): string {
    if (v === undefined && optional) return '';
    if (typeof v !== 'string' || v.trim() === '') this.fail(at, 'must be a non-empty string');
    if (v.length > max) this.fail(at, `must be at most ${max} characters`);
    return v.trim();
  }

  id(at: string, v: unknown): string {
    if (typeof v !== 'string' || !isValidId(v)) this.fail(at, 'must be an id (letters, digits, - and _)');
    return v;
  }

  list(at: string, v: unknown, { optional = false } = {}): unknown[] {
    if (v === undefined && optional) return [];
    if (!Array.isArray(v)) this.fail(at, 'must be a list');
    return v;
  }

  number(at: string, v: unknown, { min = -Infinity, max = Infinity } = {}): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(at, `must be a number${Number.isFinite(min) ? ` ≥ ${min}` : ''}${Number.isFinite(max) ? ` ≤ ${max}` : ''}`);
    }
    return v;
  }
}

/** "3s", "500ms", "2m" or a number of milliseconds. */
function duration(r: Reader, at: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return r.number(at, v, { min: 0, max: 86_400_000 });
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(v.trim()) : null;
  if (!m) return r.fail(at, 'must be a duration such as 500ms, 3s, 2m or 1h');
  const ms = Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  if (ms > 86_400_000) r.fail(at, 'must be at most 24h');
  return ms;
}

function conditions(r: Reader, at: string, raw: unknown, defaultAsset: string, roles: Set<string>): PointCondition[] {
  return r.list(at, raw).map((c, i) => {
    const cat = `${at}[${i}]`;
    const o = r.object(cat, c, ['asset', 'point', 'points', 'below', 'above']);
    const asset = o.asset === undefined ? defaultAsset : r.id(`${cat}.asset`, o.asset);
    if (!roles.has(asset)) r.fail(`${cat}.asset`, `"${asset}" is not a panel or asset role of this procedure`);
    if (o.below === undefined && o.above === undefined) r.fail(cat, 'needs below or above');
    const below = o.below === undefined ? undefined : r.number(`${cat}.below`, o.below);
    const above = o.above === undefined ? undefined : r.number(`${cat}.above`, o.above);
    if (below !== undefined && above !== undefined && above >= below) r.fail(cat, 'above must be less than below');
    if ((o.point === undefined) === (o.points === undefined)) r.fail(cat, 'needs exactly one of point or points');
    const points = o.point !== undefined ? [r.id(`${cat}.point`, o.point)] : r.list(`${cat}.points`, o.points).map((p, j) => r.id(`${cat}.points[${j}]`, p));
    if (points.length === 0) r.fail(`${cat}.points`, 'must name at least one point');
    return points.map((point) => ({ asset, point, ...(below !== undefined ? { below } : {}), ...(above !== undefined ? { above } : {}) }));
  }).flat();
}

function step(r: Reader, at: string, raw: unknown, panels: string[], roleNames: Set<string>): ProcedureStep {
  const common = ['kind', 'title', 'warnings', 'roles', 'panel'];
  const kindRaw = (raw as { kind?: unknown } | null)?.kind;
  if (typeof kindRaw !== 'string' || !(STEP_KINDS as readonly string[]).includes(kindRaw)) {
    r.fail(`${at}.kind`, `must be one of ${STEP_KINDS.join(', ')}`);
  }
  const kind = kindRaw as StepKind;
  const extra: Record<StepKind, string[]> = {
    'open-panel': [], 'close-panel': [], confirm: ['prompt'],
    operate: ['point', 'to', 'expect', 'within'], verify: ['conditions', 'hold', 'within'],
  };
  const o = r.object(at, raw, [...common, ...extra[kind]]);
  const panel = o.panel === undefined ? panels[0]! : r.id(`${at}.panel`, o.panel);
  if (!panels.includes(panel)) r.fail(`${at}.panel`, `"${panel}" is not a panel role of this procedure (${panels.join(', ')})`);
  const roles = o.roles === undefined ? DEFAULT_ROLES : r.list(`${at}.roles`, o.roles).map((x, i) => {
    if (typeof x !== 'string' || !ROLES.has(x)) r.fail(`${at}.roles[${i}]`, `must be one of ${[...ROLES].join(', ')}`);
    return x;
  });
  if (roles.length === 0) r.fail(`${at}.roles`, 'must name at least one role');
  const base = {
    title: r.text(`${at}.title`, o.title, { max: 200 }),
    warnings: r.list(`${at}.warnings`, o.warnings, { optional: true }).map((w, i) => r.text(`${at}.warnings[${i}]`, w)),
    roles, panel,
  };
  switch (kind) {
    case 'open-panel': return { kind, ...base };
    case 'close-panel': return { kind, ...base };
    case 'confirm': return { kind, ...base, prompt: r.text(`${at}.prompt`, o.prompt ?? base.title) };
    case 'operate': {
      const point = r.id(`${at}.point`, o.point);
      if (o.to !== 'open' && o.to !== 'closed') r.fail(`${at}.to`, 'must be open or closed');
      return {
        kind, ...base, point, to: o.to,
        expect: o.expect === undefined ? [] : conditions(r, `${at}.expect`, o.expect, panel, roleNames),
        expectWithinMs: duration(r, `${at}.within`, o.within, 10_000),
      };
    }
    case 'verify': {
      const conds = conditions(r, `${at}.conditions`, o.conditions, panel, roleNames);
      if (conds.length === 0) r.fail(`${at}.conditions`, 'must hold at least one condition');
      const holdMs = duration(r, `${at}.hold`, o.hold, 3_000);
      const withinMs = duration(r, `${at}.within`, o.within, 60_000);
      if (withinMs < holdMs) r.fail(`${at}.within`, 'must be at least as long as hold');
      return { kind, ...base, conditions: conds, holdMs, withinMs };
    }
  }
}

/** Parses and validates a template from YAML text; `source` names it in errors (a file name). */
export function parseProcedureTemplate(text: string, source = 'procedure'): ProcedureTemplate {
  const r = new Reader(source);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return r.fail('', `is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return validateProcedureTemplate(doc, source);
}

/** Validates an already-parsed template (JSON from the API, or YAML). */
export function validateProcedureTemplate(doc: unknown, source = 'procedure'): ProcedureTemplate {
  const r = new Reader(source);
  const o = r.object('', doc, ['id', 'title', 'description', 'panels', 'assets', 'steps']);
  const id = r.id('id', o.id);
  const panels = r.list('panels', o.panels).map((p, i) => r.id(`panels[${i}]`, p));
  if (panels.length === 0) r.fail('panels', 'must name at least one panel role');
  const assets = r.list('assets', o.assets, { optional: true }).map((p, i) => r.id(`assets[${i}]`, p));
  const roleNames = new Set([...panels, ...assets]);
  if (roleNames.size !== panels.length + assets.length) r.fail('assets', 'roles must be unique across panels and assets');
  const rawSteps = r.list('steps', o.steps);
  if (rawSteps.length === 0) r.fail('steps', 'must hold at least one step');
  if (rawSteps.length > MAX_STEPS) r.fail('steps', `must hold at most ${MAX_STEPS} steps`);
  const steps = rawSteps.map((s, i) => step(r, `steps[${i}]`, s, panels, roleNames));
  checkDoorOrder(r, steps, panels);
  return {
    id, title: r.text('title', o.title, { max: 200 }), description: r.text('description', o.description, { optional: true, max: 4000 }),
    panels, assets, steps,
  };
}

/**
 * The door steps must make sense per panel: opened before anything is done there, closed at
 * the end, never opened twice without closing — otherwise the live check could never pass.
 */
function checkDoorOrder(r: Reader, steps: ProcedureStep[], panels: string[]): void {
  const open = new Map(panels.map((p) => [p, false]));
  steps.forEach((s, i) => {
    const at = `steps[${i}]`;
    if (s.kind === 'open-panel') {
      if (open.get(s.panel)) r.fail(at, `opens panel ${s.panel}, which is already open`);
      open.set(s.panel, true);
    } else if (s.kind === 'close-panel') {
      if (!open.get(s.panel)) r.fail(at, `closes panel ${s.panel}, which is not open`);
      open.set(s.panel, false);
    } else if (s.kind === 'operate' && !open.get(s.panel)) {
      r.fail(at, `operates ${s.point} on panel ${s.panel} before an open-panel step for it`);
    }
  });
  for (const [p, isOpen] of open) if (isOpen) r.fail('steps', `leave panel ${p} open: end with a close-panel step for it`);
}

/**
 * Points the procedure expects to change on each bound role — the only alarms a release
 * suppresses by design (the operated breakers, the expected and verified measurements).
 */
export function expectedChanges(t: ProcedureTemplate): { role: string; point: string }[] {
  const out = new Map<string, { role: string; point: string }>();
  const add = (role: string, point: string) => out.set(`${role}\0${point}`, { role, point });
  for (const s of t.steps) {
    if (s.kind === 'operate') {
      add(s.panel, s.point);
      for (const c of s.expect) add(c.asset, c.point);
    } else if (s.kind === 'verify') {
      for (const c of s.conditions) add(c.asset, c.point);
    }
  }
  return [...out.values()];
}
