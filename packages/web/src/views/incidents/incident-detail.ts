/**
 * What a DMOP incident's `detail` carries besides the telemetry, as the procedures' panel
 * supervisor writes it (server: DmopIncidentDetail): the work order's step log, the people on it,
 * the work orders under way nearby, what was expected and observed, and readings from just
 * before. `detail` is free-form JSON, so each part is read defensively: a part that does not fit
 * its shape is left in `rest` and shown as it is, never dropped.
 */
import type { EvidenceSampleValue } from '../../app/api-types.ts';

export interface StepEntry { seq: number; step: string; kind: string; at: number; by: string; note?: string }
export interface PersonEntry { name: string; workOrderId?: string }
export interface WorkOrderEntry { id: string; title?: string; status?: string; panels: string[] }
export interface ReadingEntry { asset?: string; point: string; ts: number; value: EvidenceSampleValue }

export interface DmopFacts {
  workOrderId?: string;
  /** procedure.deviation: the step (1-based) and what was expected and observed there, as text. */
  step?: string;
  expected?: string;
  observed?: string;
  steps: StepEntry[];
  people: PersonEntry[];
  workOrders: WorkOrderEntry[];
  readingsBefore: ReadingEntry[];
  /** Every other key, and any of the above that did not have the expected shape. */
  rest: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const idText = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const time = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const isValue = (v: unknown): v is EvidenceSampleValue => v === null || ['number', 'boolean', 'string'].includes(typeof v);
const names = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined);
const shown = (v: unknown): string | undefined => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** Each element through `read`; the whole list is refused (undefined) if any element does not fit. */
function listOf<T>(value: unknown, read: (o: Obj) => T | undefined): T[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: T[] = [];
  for (const item of value) {
    const r = isObj(item) ? read(item) : undefined;
    if (r === undefined) return undefined;
    out.push(r);
  }
  return out;
}

const readStep = (o: Obj): StepEntry | undefined => {
  const kind = text(o.kind);
  const at = time(o.at);
  const by = text(o.actor);
  if (kind === undefined || at === undefined || by === undefined || (o.step !== null && time(o.step) === undefined)) return undefined;
  const detail = isObj(o.detail) && Object.keys(o.detail).length > 0 ? JSON.stringify(o.detail) : undefined;
  // The procedures count steps from 0; people count from 1.
  return { seq: time(o.seq) ?? 0, step: o.step === null ? '—' : String((o.step as number) + 1), kind, at, by, ...optional('note', detail) };
};
const readWorkOrder = (o: Obj): (WorkOrderEntry & { assignees: string[] }) | undefined => {
  const id = idText(o.workOrderId);
  return id === undefined ? undefined : {
    id, ...optional('title', text(o.title)), ...optional('status', text(o.status)), panels: names(o.panels) ?? [], assignees: names(o.assignees) ?? [],
  };
};
const readReading = (o: Obj): ReadingEntry | undefined => {
  const point = text(o.point);
  const ts = time(o.ts);
  return point === undefined || ts === undefined || !isValue(o.value) ? undefined : { ...optional('asset', text(o.asset)), point, ts, value: o.value };
};

export function dmopFacts(detail: Record<string, unknown>): DmopFacts {
  const rest: Record<string, unknown> = { ...detail };
  const take = <T>(key: string, read: (o: Obj) => T | undefined): T[] => {
    const list = listOf(detail[key], read);
    if (list !== undefined) delete rest[key];
    return list ?? [];
  };
  const nearby = take('workOrdersNearby', readWorkOrder);
  const assignees = names(detail.assignees);
  if (assignees) delete rest.assignees;
  const facts: DmopFacts = {
    steps: take('stepLog', readStep),
    people: [
      ...(assignees ?? []).map((name) => ({ name })),
      ...nearby.flatMap((w) => w.assignees.map((name) => ({ name, workOrderId: w.id }))),
    ],
    workOrders: nearby.map(({ assignees: _people, ...w }) => w),
    readingsBefore: take('readingsBefore', readReading),
    rest,
  };
  const scalars: [keyof DmopFacts & ('workOrderId' | 'step' | 'expected' | 'observed'), string | undefined][] = [
    ['workOrderId', idText(detail.workOrderId)], ['step', idText(detail.step)], ['expected', shown(detail.expected)], ['observed', shown(detail.observed)],
  ];
  for (const [key, value] of scalars) {
    if (value === undefined) continue;
    facts[key] = value;
    delete rest[key];
  }
  return facts;
}
