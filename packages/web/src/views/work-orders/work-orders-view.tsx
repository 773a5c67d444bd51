/**
 * DMOP work orders: the active ones (or all), by site, newest first, each with its procedure,
 * panels, window, technicians, status and step, and the actions the signed-in role may take
 * (approve, release, abort). Engineers and managers plan new ones here.
 */
import { useMemo, useState } from 'react';
import type { DmopWorkOrder, ProcedureVersion, Site } from '../../app/api-types.ts';
import { useAuth } from '../../app/auth.tsx';
import { NotAllowed, PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { Link, navigate, useSearchParams } from '../../app/router.tsx';
import { useApi, useNow } from '../../app/use-api.ts';
import { mayDmop, rolesThatMay } from '../panels/dmop-roles.ts';
import { usePanelBoard, useVisiblePoll } from '../panels/live-board.ts';
import { CreateWorkOrderDialog, versionKey } from './create-work-order-dialog.tsx';
import { availableActions, WORK_ORDER_ACTION_SPECS } from './work-order-actions.ts';
import { useWorkOrderAction, WorkOrderActionDialog } from './work-order-action-dialog.tsx';
import { WorkOrderStatusBadge } from './work-order-status.tsx';
import '../panels/dmop.css';
import { dmopApi, workOrderPage } from './dmop-api.ts';

const SHOW = ['active', 'all'] as const;
type Show = (typeof SHOW)[number];
const SHOW_LABEL: Record<Show, string> = { active: 'Active', all: 'All' };

export default function WorkOrdersView() {
  const { user } = useAuth();
  const now = useNow(30_000);
  const [params, setParams] = useSearchParams();
  const show: Show = params.get('show') === 'all' ? 'all' : 'active';
  const site = params.get('site') ?? '';
  const poll = useVisiblePoll();
  const list = useApi<{ workOrders: DmopWorkOrder[] }>(dmopApi.list({ site, ...(show === 'active' ? { active: true } : {}) }), { reloadOn: ['work-orders'], pollMs: poll });
  const procedures = useApi<{ procedures: ProcedureVersion[] }>('/procedures');
  const sites = useApi<{ sites: Site[] }>('/sites');
  const mayCreate = mayDmop(user?.role, 'work-order.create');
  const board = usePanelBoard();
  const [creating, setCreating] = useState(false);
  const runner = useWorkOrderAction(() => list.reload());

  const byVersion = useMemo(() => new Map((procedures.state.data?.procedures ?? []).map((v) => [versionKey(v), v])), [procedures.state.data]);
  const siteIds = useMemo(() => {
    const all = new Set((sites.state.data?.sites ?? []).map((s) => s.id));
    for (const p of board.state.data?.panels ?? []) all.add(p.site);
    return [...all].sort();
  }, [sites.state.data, board.state.data]);

  const placeholder = stateOf(list.state, {
    onRetry: list.reload, loading: 'Loading work orders…', isEmpty: (d) => d.workOrders.length === 0,
    empty: show === 'active' ? 'No active work orders. Switch to "All" to see completed and aborted ones.' : 'No work orders yet.',
  });

  return (
    <div className="work-orders-view">
      <PageHeader
        title="Work orders"
        subtitle="Digital methods of procedure: each work order follows an approved procedure step by step at its panels. Live."
        actions={mayCreate ? <button type="button" className="primary" data-testid="create-work-order" onClick={() => setCreating(true)}>New work order</button> : undefined}
      />
      {!mayCreate ? <NotAllowed action="plan work orders" roles={rolesThatMay('work-order.create')} /> : null}
      <div className="toolbar" role="search" aria-label="Filter work orders">
        <div className="pill-group" role="group" aria-label="Show">
          {SHOW.map((s) => (
            <button key={s} type="button" aria-pressed={show === s} onClick={() => setParams({ show: s === 'active' ? null : s })} data-testid={`work-order-filter-${s}`}>{SHOW_LABEL[s]}</button>
          ))}
        </div>
        <label className="inline-field">
          <span>Site</span>
          <select value={site} onChange={(e) => setParams({ site: e.target.value })} data-testid="work-order-filter-site">
            <option value="">all sites</option>
            {siteIds.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      <section className="panel" aria-label="Work orders">
        <StaleNotice error={list.state.status === 'error' && list.state.data ? list.state.error : null} />
        {placeholder ?? (
          <div className="table-scroll">
            <table className="wo-table" data-testid="dmop-work-orders">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Work order</th>
                  <th scope="col">Site / panels</th>
                  <th scope="col">Window</th>
                  <th scope="col">Technicians</th>
                  <th scope="col">Status</th>
                  <th scope="col">Step</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.state.data!.workOrders.map((wo) => {
                  const v = byVersion.get(versionKey(wo));
                  const count = v?.template.steps.length;
                  const step = v?.template.steps[wo.currentStep];
                  const actions = availableActions(user, wo, now).filter((a) => a !== 'start');
                  return (
                    <tr key={wo.id} data-testid="dmop-work-order-row" data-work-order-id={wo.id} data-status={wo.status}>
                      <td className="num">{wo.id}</td>
                      <td>
                        <Link to={workOrderPage(wo.id)}>{wo.title}</Link>
                        <div className="muted fine">{wo.procedureId} version {wo.version}; by {wo.createdBy}{wo.approvedBy ? `, approved by ${wo.approvedBy}` : ''}</div>
                      </td>
                      <td>{wo.site}<div className="muted fine">{Object.entries(wo.bindings).map(([r, a]) => `${r}: ${a}`).join(', ')}</div></td>
                      <td>
                        <time dateTime={isoTime(wo.windowStart)}>{formatTime(wo.windowStart)}</time>
                        <div className="muted fine">to <time dateTime={isoTime(wo.windowEnd)}>{formatTime(wo.windowEnd)}</time></div>
                      </td>
                      <td>{wo.assignees.join(', ')}</td>
                      <td><WorkOrderStatusBadge status={wo.status} held={wo.hold !== null} /></td>
                      <td>
                        {wo.status === 'completed' ? 'all done'
                          : count !== undefined ? <>{Math.min(wo.currentStep + 1, count)} of {count}{step ? <div className="muted fine">{step.title}</div> : null}</>
                            : `step ${wo.currentStep + 1}`}
                      </td>
                      <td>
                        <div className="wo-actions">
                          {actions.map((a) => (
                            <button key={a} type="button" className={`small${a === 'abort' ? ' danger-outline' : ' primary'}`} data-testid={`work-order-${a}`}
                              aria-label={`${WORK_ORDER_ACTION_SPECS[a].label}: work order ${wo.id}`} onClick={() => runner.ask(wo, a)}>
                              {WORK_ORDER_ACTION_SPECS[a].label}
                            </button>
                          ))}
                          <Link to={workOrderPage(wo.id)} className="button-link" aria-label={`Open work order ${wo.id}`}>Open</Link>
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {mayCreate ? (
        <CreateWorkOrderDialog
          open={creating}
          procedures={procedures.state.data?.procedures ?? []}
          board={board.state.data}
          sites={siteIds}
          onCreated={(wo) => { setCreating(false); navigate(workOrderPage(wo.id)); }}
          onCancel={() => setCreating(false)}
        />
      ) : null}
      <WorkOrderActionDialog runner={runner} />
    </div>
  );
}
