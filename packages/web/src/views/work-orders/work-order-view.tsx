/**
 * The technician's work-order view, for a tablet at the panel: what stops the work first (a
 * deviation, a site stop), then the step to do now in large type with its warnings, what the
 * panel must show and a Confirm button where the step asks for one; beside it what the panel
 * reports now with its signal tower; the procedure and the step log below. Planners and managers
 * see the approve, release and abort actions, and a manager acknowledges a deviation here.
 *
 * Live: the panel board comes with `panels` events, the work order is re-read on `work-orders`
 * and `panels` events, and every 2 s while the page is visible in any case.
 */
import type { Deviation, DmopWorkOrder, DmopWorkOrderDetail } from '../../app/api-types.ts';
import { useAuth } from '../../app/auth.tsx';
import { PageHeader } from '../../app/components/page.tsx';
import { ErrorState, StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { Link } from '../../app/router.tsx';
import type { ViewProps } from '../../app/route.ts';
import { useApi, useNow } from '../../app/use-api.ts';
import { useDemoSimulator } from '../panels/demo-simulator.tsx';
import { usePanelBoard, useVisiblePoll } from '../panels/live-board.ts';
import { useReasonAction } from '../panels/reason-action.ts';
import { ReasonDialog } from '../panels/reason-dialog.tsx';
import { CurrentStepCard } from './current-step-card.tsx';
import { PanelNow } from './panel-now.tsx';
import { DeviationHistory, ProcedureSteps, StepLog } from './step-log.tsx';
import { useBoundUnits } from './use-bound-units.ts';
import { availableActions, WORK_ORDER_ACTION_SPECS } from './work-order-actions.ts';
import { useWorkOrderAction, WorkOrderActionDialog } from './work-order-action-dialog.tsx';
import { DeviationBanner, LifecycleNote, SiteStopBanner } from './work-order-banners.tsx';
import { WorkOrderStatusBadge } from './work-order-status.tsx';
import '../panels/dmop.css';
import { dmopApi } from './dmop-api.ts';

function parseId(raw: string | undefined): number | null {
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : null;
}

export default function WorkOrderView({ params }: ViewProps) {
  const id = parseId(params.id);
  if (id === null) return <ErrorState title="No such work order" message={`"${params.id ?? ''}" is not a work order number.`} />;
  return <WorkOrderDetailView key={id} id={id} />;
}

function WorkOrderDetailView({ id }: { id: number }) {
  const { user } = useAuth();
  const now = useNow(30_000);
  const detail = useApi<DmopWorkOrderDetail>(dmopApi.detail(id), { reloadOn: ['work-orders', 'panels'], pollMs: useVisiblePoll() });
  const board = usePanelBoard();
  const sim = useDemoSimulator();
  const d = detail.state.data;
  const units = useBoundUnits(d?.workOrder.site, d?.workOrder.bindings);
  const reload = detail.reload;
  const afterChange = () => { reload(); board.reload(); };
  const runner = useWorkOrderAction((_wo: DmopWorkOrder) => afterChange());
  const acknowledge = useReasonAction(afterChange);

  const placeholder = stateOf(detail.state, { onRetry: reload, loading: `Loading work order ${id}…` });
  if (placeholder || !d) return <div className="wo-technician">{placeholder}</div>;

  const wo = d.workOrder;
  const actions = availableActions(user, wo, now);
  const askAcknowledge = (dev: Deviation) => acknowledge.ask({
    title: `Acknowledge the deviation at step ${dev.step + 1}`,
    explanation: `Expected: ${dev.expected}. Observed: ${dev.observed}. Acknowledging stops the klaxon and lets the work resume at step ${dev.step + 1}; the deviation and its incident stay on record.`,
    confirmLabel: 'Acknowledge deviation', reasonLabel: 'Why the work may go on', path: dmopApi.acknowledgeDeviation(dev.id),
  });

  return (
    <div className="wo-technician" data-testid="work-order-view" data-work-order-id={wo.id} data-status={wo.status} data-paused={String(d.paused)}>
      <PageHeader
        title={<>Work order #{wo.id}: {wo.title}</>}
        subtitle={<>
          {wo.site}, {Object.entries(wo.bindings).map(([role, asset]) => `${asset} (${role})`).join(', ')} — technicians {wo.assignees.join(', ')};
          window <time dateTime={isoTime(wo.windowStart)}>{formatTime(wo.windowStart)}</time> to <time dateTime={isoTime(wo.windowEnd)}>{formatTime(wo.windowEnd)}</time>
        </>}
        actions={<>
          <WorkOrderStatusBadge status={wo.status} held={d.paused} />
          {actions.map((a) => (
            <button key={a} type="button" className={`touch${a === 'abort' ? ' danger-outline' : ' primary'}`} data-testid={`work-order-${a}`} onClick={() => runner.ask(wo, a)}>
              {WORK_ORDER_ACTION_SPECS[a].label}
            </button>
          ))}
          <Link to="/work-orders">All work orders</Link>
        </>}
      />
      <StaleNotice error={detail.state.status === 'error' ? detail.state.error : null} />
      <SiteStopBanner detail={d} />
      <DeviationBanner detail={d} role={user?.role ?? null} onAcknowledge={askAcknowledge} />
      <LifecycleNote detail={d} />
      {/* Step, panel, procedure: on a tablet in that order, one column; wider, the panel beside both. */}
      <div className="wo-layout">
        <div className="wo-area-step"><CurrentStepCard detail={d} user={user} units={units} onConfirmed={afterChange} /></div>
        <div className="wo-area-steps"><ProcedureSteps template={d.template} wo={wo} /></div>
        <PanelNow detail={d} board={board.state.data?.panels ?? []} units={units} sim={sim} userRole={user?.role ?? null} onSimulated={afterChange} />
      </div>
      <StepLog events={d.steps} template={d.template} />
      <DeviationHistory deviations={d.deviations} />
      <WorkOrderActionDialog runner={runner} />
      <ReasonDialog action={acknowledge} />
    </div>
  );
}
