/**
 * Planning a DMOP work order (POST /work-orders): an approved procedure version, the site, a
 * panel for each of the procedure's panel roles (from the panel board) and an asset for each of
 * its other roles, the work window, and the technicians assigned. It starts as a draft that a
 * manager other than its creator approves.
 */
import { useId, useMemo, useState } from 'react';
import { api, messageOf, query } from '../../app/api-client.ts';
import type { Asset, DmopWorkOrder, PanelBoard, ProcedureVersion } from '../../app/api-types.ts';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { useApi } from '../../app/use-api.ts';
import { dmopApi } from './dmop-api.ts';

const HOUR = 3_600_000;

/** `YYYY-MM-DDTHH:mm` in local time, for <input type="datetime-local">. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fromLocalInput(value: string): number {
  return value === '' ? Number.NaN : new Date(value).getTime();
}

/** "tom, ann" → ['tom', 'ann'] (commas or spaces, duplicates dropped). */
export function parseAssignees(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter((s) => s !== ''))];
}

export const versionKey = (v: Pick<ProcedureVersion, 'procedureId' | 'version'>) => `${v.procedureId}@${v.version}`;

interface Draft {
  procedure: string;
  site: string;
  bindings: Record<string, string>;
  start: string;
  end: string;
  assignees: string;
  title: string;
}

function initialDraft(approved: readonly ProcedureVersion[], sites: readonly string[]): Draft {
  // From the current minute (not the next): a window that opens in the future does not cover the
  // panel yet, and a technician sent there now would raise an intrusion.
  const start = Math.floor(Date.now() / 60_000) * 60_000;
  return {
    procedure: approved[0] ? versionKey(approved[0]) : '', site: sites[0] ?? '', bindings: {},
    start: toLocalInput(start), end: toLocalInput(start + 4 * HOUR), assignees: '', title: '',
  };
}

export interface CreateWorkOrderDialogProps {
  open: boolean;
  procedures: readonly ProcedureVersion[];
  board: PanelBoard | undefined;
  sites: readonly string[];
  onCreated(wo: DmopWorkOrder): void;
  onCancel(): void;
}

export function CreateWorkOrderDialog(props: CreateWorkOrderDialogProps) {
  // Newest version of each procedure first; only approved versions can be planned.
  const approved = useMemo(() => props.procedures.filter((p) => p.approvedBy !== null), [props.procedures]);
  const [draft, setDraft] = useState<Draft>(() => initialDraft(approved, props.sites));
  const [opened, setOpened] = useState(props.open);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Each opening starts from a fresh form (adjusting state to a prop, not an effect).
  if (opened !== props.open) {
    setOpened(props.open);
    if (props.open) {
      setDraft(initialDraft(approved, props.sites));
      setError(null);
    }
  }
  if (draft.procedure === '' && approved[0]) setDraft((d) => ({ ...d, procedure: versionKey(approved[0]!) }));
  if (draft.site === '' && props.sites[0]) setDraft((d) => ({ ...d, site: props.sites[0]! }));

  const version = approved.find((v) => versionKey(v) === draft.procedure);
  const template = version?.template;
  const panelsAtSite = (props.board?.panels ?? []).filter((p) => p.site === draft.site).map((p) => p.panel).sort();
  const needsAssets = (template?.assets.length ?? 0) > 0;
  const assets = useApi<{ assets: Asset[] }>(props.open && needsAssets && draft.site ? `/assets${query({ site: draft.site })}` : null);
  const ids = { procedure: useId(), site: useId(), start: useId(), end: useId(), assignees: useId(), title: useId(), role: useId() };
  const set = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));
  const bind = (role: string, asset: string) => setDraft((d) => ({ ...d, bindings: { ...d.bindings, [role]: asset } }));

  const submit = async () => {
    if (!version || !template) return setError('Choose an approved procedure.');
    if (!draft.site) return setError('Choose the site.');
    const bindings: Record<string, string> = {};
    for (const role of [...template.panels, ...template.assets]) {
      const asset = draft.bindings[role];
      if (!asset) return setError(`Choose the ${template.panels.includes(role) ? 'panel' : 'asset'} for the role "${role}".`);
      bindings[role] = asset;
    }
    const windowStart = fromLocalInput(draft.start);
    const windowEnd = fromLocalInput(draft.end);
    if (!Number.isFinite(windowStart) || !Number.isFinite(windowEnd)) return setError('Give the start and end of the work window.');
    if (windowEnd <= windowStart) return setError('The window must end after it starts.');
    const assignees = parseAssignees(draft.assignees);
    if (assignees.length === 0) return setError('Assign at least one technician (their username).');
    setBusy(true);
    setError(null);
    try {
      const answer = await api.post<{ workOrder: DmopWorkOrder }>(dmopApi.create(), {
        site: draft.site, procedureId: version.procedureId, version: version.version, bindings, windowStart, windowEnd, assignees,
        ...(draft.title.trim() ? { title: draft.title.trim() } : {}),
      });
      props.onCreated(answer.workOrder);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
    return undefined;
  };

  const fields = (
    <div className="binding-fields">
      <label htmlFor={ids.procedure} className="field">
        <span>Procedure (approved versions)</span>
        <select id={ids.procedure} value={draft.procedure} onChange={(e) => set({ procedure: e.target.value, bindings: {} })} data-testid="create-procedure">
          {approved.length === 0 ? <option value="">no approved procedure yet</option> : null}
          {approved.map((v) => (
            <option key={versionKey(v)} value={versionKey(v)}>{v.template.title} — version {v.version}, approved by {v.approvedBy}</option>
          ))}
        </select>
      </label>
      {approved.length === 0 ? <p className="notice">A procedure must be submitted and approved by someone other than its author before work can be planned with it.</p> : null}
      {template?.description ? <p className="muted fine">{template.description}</p> : null}
      <label htmlFor={ids.site} className="field">
        <span>Site</span>
        <select id={ids.site} value={draft.site} onChange={(e) => set({ site: e.target.value, bindings: {} })} data-testid="create-site">
          {props.sites.length === 0 ? <option value="">no site known</option> : null}
          {props.sites.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
      </label>
      {template?.panels.map((role) => (
        <label key={`panel-${role}`} htmlFor={`${ids.role}-${role}`} className="field">
          <span>Panel for the role "{role}"</span>
          <select id={`${ids.role}-${role}`} value={draft.bindings[role] ?? ''} onChange={(e) => bind(role, e.target.value)} data-testid="create-binding" data-role={role}>
            <option value="">choose a panel…</option>
            {panelsAtSite.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
      ))}
      {template?.assets.map((role) => (
        <label key={`asset-${role}`} htmlFor={`${ids.role}-${role}`} className="field">
          <span>Asset for the role "{role}"</span>
          <select id={`${ids.role}-${role}`} value={draft.bindings[role] ?? ''} onChange={(e) => bind(role, e.target.value)} data-testid="create-binding" data-role={role}>
            <option value="">{assets.state.status === 'loading' ? 'loading assets…' : 'choose an asset…'}</option>
            {(assets.state.data?.assets ?? []).map((a) => <option key={a.id} value={a.id}>{a.id} ({a.type})</option>)}
          </select>
        </label>
      ))}
      <label htmlFor={ids.start} className="field">
        <span>Window starts</span>
        <input id={ids.start} type="datetime-local" value={draft.start} onChange={(e) => set({ start: e.target.value })} />
      </label>
      <label htmlFor={ids.end} className="field">
        <span>Window ends (at most 7 days later)</span>
        <input id={ids.end} type="datetime-local" value={draft.end} onChange={(e) => set({ end: e.target.value })} />
      </label>
      <label htmlFor={ids.assignees} className="field">
        <span>Technicians (usernames, separated by commas)</span>
        <input id={ids.assignees} type="text" value={draft.assignees} onChange={(e) => set({ assignees: e.target.value })} autoComplete="off" data-testid="create-assignees" />
      </label>
      <label htmlFor={ids.title} className="field">
        <span>Title (optional; the procedure's title otherwise)</span>
        <input id={ids.title} type="text" maxLength={200} value={draft.title} onChange={(e) => set({ title: e.target.value })} />
      </label>
    </div>
  );

  return (
    <ActionDialog
      open={props.open}
      title="New work order"
      confirmLabel="Create work order"
      fields={fields}
      busy={busy}
      error={error}
      onConfirm={() => void submit()}
      onCancel={props.onCancel}
    >
      <p className="muted">The work order starts as a draft: a manager other than you approves it, then it is released to its panels.</p>
    </ActionDialog>
  );
}
