/**
 * Work orders, newest first: predictive ones come from recommendations, planned and reactive ones
 * are created here. The share of reactive ones is the KPI below, so the type is asked for
 * explicitly rather than defaulted.
 */
import { useId, useState } from 'react';
import { api, messageOf, query } from '../../app/api-client.ts';
import type { Asset, AssetDetail, WorkOrder } from '../../app/api-types.ts';
import { StatusBadge, type Tone } from '../../app/components/badges.tsx';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { rolesThatCan } from '../../app/permissions.ts';
import { useApi, type UseApiResult } from '../../app/use-api.ts';
import { AssetLink } from './asset-link.tsx';
import { formatPast } from './deviation.ts';

const TYPE_TONE: Record<WorkOrder['type'], Tone> = { predictive: 'ok', planned: 'idle', reactive: 'warn' };
const TYPE_HELP: Record<WorkOrder['type'], string> = {
  predictive: 'raised from a recommendation before a failure',
  planned: 'scheduled maintenance',
  reactive: 'after a failure',
};

type CreatableType = 'planned' | 'reactive';
const assetKey = (a: { site: string; id: string }) => `${a.site}\u0000${a.id}`;

function NewWorkOrderDialog({ open, assets, onCreated, onCancel }: {
  open: boolean;
  assets: readonly Asset[];
  onCreated(wo: WorkOrder): void;
  onCancel(): void;
}) {
  const [type, setType] = useState<CreatableType | null>(null);
  const [target, setTarget] = useState('');
  const [point, setPoint] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const assetId = useId();
  const pointId = useId();
  const asset = assets.find((a) => assetKey(a) === target);
  const detail = useApi<AssetDetail>(open && asset ? `/assets/${encodeURIComponent(asset.id)}${query({ site: asset.site })}` : null);

  const reset = () => {
    setType(null);
    setTarget('');
    setPoint('');
    setError(null);
  };

  const create = async (title: string) => {
    if (!asset) return setError('Choose the asset the work is on.');
    if (!type) return setError('Choose whether the work is planned or reactive.');
    setBusy(true);
    setError(null);
    try {
      const { workOrder } = await api.post<{ workOrder: WorkOrder }>('/work-orders', {
        site: asset.site, asset: asset.id, type, title, ...(point ? { point } : {}),
      });
      reset();
      onCreated(workOrder);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const fields = (
    <>
      <fieldset className="field">
        <legend>Type (required)</legend>
        {(['planned', 'reactive'] as const).map((t) => (
          <label key={t} className="inline-field">
            <input type="radio" name="work-order-type" value={t} checked={type === t} onChange={() => setType(t)} required />
            {t} <span className="muted fine">— {TYPE_HELP[t]}</span>
          </label>
        ))}
      </fieldset>
      <label htmlFor={assetId} className="field">
        <span>Asset (required)</span>
        <select id={assetId} value={target} onChange={(e) => { setTarget(e.target.value); setPoint(''); }} required>
          <option value="">Choose…</option>
          {assets.map((a) => <option key={assetKey(a)} value={assetKey(a)}>{a.site} / {a.id}{a.name && a.name !== a.id ? ` — ${a.name}` : ''}</option>)}
        </select>
      </label>
      <label htmlFor={pointId} className="field">
        <span>Point (optional)</span>
        <select id={pointId} value={point} onChange={(e) => setPoint(e.target.value)} disabled={!asset}>
          <option value="">{asset && detail.state.status === 'loading' ? 'Loading points…' : 'The whole asset'}</option>
          {(detail.state.data?.points ?? []).map((p) => <option key={p.name} value={p.name}>{p.name}{p.unit ? ` (${p.unit})` : ''}</option>)}
        </select>
      </label>
    </>
  );

  return (
    <ActionDialog
      open={open}
      title="New work order"
      confirmLabel="Create work order"
      busy={busy}
      error={error}
      fields={fields}
      comment={{ label: 'Title', required: true }}
      onConfirm={(title) => void create(title)}
      onCancel={() => { reset(); onCancel(); }}
    />
  );
}

function WorkOrderRow({ wo, now, mayWrite, busy, onDone }: { wo: WorkOrder; now: number; mayWrite: boolean; busy: boolean; onDone(): void }) {
  return (
    <tr data-testid="work-order-row" data-work-order-id={wo.id} data-status={wo.status} data-type={wo.type}>
      <td className="num">#{wo.id}</td>
      <td><StatusBadge tone={TYPE_TONE[wo.type]} label={wo.type} title={TYPE_HELP[wo.type]} /></td>
      <td><StatusBadge tone={wo.status === 'open' ? 'warn' : 'ok'} label={wo.status} /></td>
      <td>
        {wo.title}
        {wo.recommendationId !== null ? <div className="muted fine">from recommendation {wo.recommendationId}</div> : null}
      </td>
      <td><AssetLink site={wo.site} asset={wo.asset} withSite />{wo.point ? <div><code>{wo.point}</code></div> : null}</td>
      <td>{wo.createdBy}</td>
      <td><time dateTime={isoTime(wo.createdAt)}>{formatTime(wo.createdAt)}</time><div className="muted fine">{formatPast(wo.createdAt, now)}</div></td>
      <td>
        {wo.doneAt !== null
          ? <><time dateTime={isoTime(wo.doneAt)}>{formatTime(wo.doneAt)}</time><div className="muted fine">{formatPast(wo.doneAt, now)}</div></>
          : <span className="muted">—</span>}
      </td>
      <td className="row-actions">
        {wo.status === 'open' ? (
          <button
            type="button" className="small" onClick={onDone} disabled={!mayWrite || busy}
            aria-label={`Mark work order ${wo.id} done`}
            {...(!mayWrite ? { title: `Needs ${rolesThatCan('work-order.create')}` } : {})}
          >
            {busy ? 'Working…' : 'Mark done'}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

export function WorkOrders({ orders, assets, now, mayWrite, onChanged }: {
  orders: UseApiResult<{ workOrders: WorkOrder[] }>;
  assets: readonly Asset[];
  now: number;
  mayWrite: boolean;
  onChanged(): void;
}) {
  const [creating, setCreating] = useState(false);
  const [completing, setCompleting] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { state } = orders;

  const replace = (wo: WorkOrder) => {
    const current = state.data?.workOrders ?? [];
    const known = current.some((o) => o.id === wo.id);
    orders.set({ workOrders: known ? current.map((o) => (o.id === wo.id ? wo : o)) : [wo, ...current] });
    onChanged();
  };

  const markDone = async (wo: WorkOrder) => {
    setCompleting(wo.id);
    setError(null);
    try {
      const { workOrder } = await api.post<{ workOrder: WorkOrder }>(`/work-orders/${wo.id}/done`);
      replace(workOrder);
    } catch (err) {
      setError(`Work order #${wo.id} was not marked done: ${messageOf(err)}`);
    } finally {
      setCompleting(null);
    }
  };

  const other = stateOf(state, {
    onRetry: orders.reload,
    isEmpty: (d) => d.workOrders.length === 0,
    empty: 'No work orders yet. Create one from a recommendation, or a planned or reactive one here.',
  });

  return (
    <section className="panel" aria-labelledby="work-orders-title" data-testid="work-orders">
      <div className="panel-heading">
        <h2 id="work-orders-title">Work orders</h2>
        <button
          type="button" className="primary" onClick={() => setCreating(true)} disabled={!mayWrite || assets.length === 0}
          {...(!mayWrite ? { title: `Needs ${rolesThatCan('work-order.create')}` } : assets.length === 0 ? { title: 'No assets are known yet' } : {})}
        >
          New work order
        </button>
      </div>
      {error ? <p className="form-error" role="alert">{error}</p> : null}
      {other ?? (
        <>
          <StaleNotice error={state.error} />
          <div className="table-scroll">
            <table data-testid="work-orders-table">
              <thead>
                <tr>
                  <th scope="col" className="num">Id</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Title</th>
                  <th scope="col">Asset</th><th scope="col">Created by</th><th scope="col">Created</th><th scope="col">Done</th>
                  <th scope="col"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {state.data!.workOrders.map((wo) => (
                  <WorkOrderRow key={wo.id} wo={wo} now={now} mayWrite={mayWrite} busy={completing === wo.id} onDone={() => void markDone(wo)} />
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <NewWorkOrderDialog
        open={creating} assets={assets}
        onCreated={(wo) => { setCreating(false); replace(wo); }}
        onCancel={() => setCreating(false)}
      />
    </section>
  );
}
