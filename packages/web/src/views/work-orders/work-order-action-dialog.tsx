/**
 * Runs a work-order action: a confirmation (with a required reason for abort), the request, and
 * the server's own message when it refuses (two-person rule, a panel busy with other work, ...).
 */
import { useCallback, useState } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import type { DmopWorkOrder } from '../../app/api-types.ts';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { MIN_REASON } from '../panels/reason-action.ts';
import { actionPath, WORK_ORDER_ACTION_SPECS, type WorkOrderAction } from './work-order-actions.ts';

export interface WorkOrderActionRequest {
  wo: DmopWorkOrder;
  action: WorkOrderAction;
}

export interface WorkOrderActionRunner {
  request: WorkOrderActionRequest | null;
  busy: boolean;
  error: string | null;
  ask(wo: DmopWorkOrder, action: WorkOrderAction): void;
  cancel(): void;
  confirm(reason: string): Promise<void>;
}

export function useWorkOrderAction(onDone: (wo: DmopWorkOrder) => void): WorkOrderActionRunner {
  const [request, setRequest] = useState<WorkOrderActionRequest | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ask = useCallback((wo: DmopWorkOrder, action: WorkOrderAction) => { setError(null); setRequest({ wo, action }); }, []);
  const cancel = useCallback(() => { setError(null); setRequest(null); }, []);
  const confirm = useCallback(async (reason: string) => {
    if (!request) return;
    const spec = WORK_ORDER_ACTION_SPECS[request.action];
    if (spec.reason && reason.trim().length < MIN_REASON) {
      setError(`Give a reason of at least ${MIN_REASON} characters: it is kept in the audit log and the step log.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const answer = await api.post<{ workOrder: DmopWorkOrder }>(actionPath(request.wo.id, request.action), spec.reason ? { reason: reason.trim() } : {});
      setRequest(null);
      onDone(answer.workOrder);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }, [request, onDone]);
  return { request, busy, error, ask, cancel, confirm };
}

export function WorkOrderActionDialog({ runner }: { runner: WorkOrderActionRunner }) {
  const r = runner.request;
  const spec = r ? WORK_ORDER_ACTION_SPECS[r.action] : null;
  return (
    <ActionDialog
      open={r !== null}
      title={spec && r ? `${spec.label}: work order #${r.wo.id}` : 'Work order'}
      confirmLabel={spec?.label ?? 'Confirm'}
      {...(spec?.reason ? { comment: { label: spec.reason, required: true } } : {})}
      danger={spec?.danger === true}
      busy={runner.busy}
      error={runner.error}
      onConfirm={(reason) => void runner.confirm(reason)}
      onCancel={runner.cancel}
    >
      {spec && r ? <p>{spec.explanation(r.wo)}</p> : null}
    </ActionDialog>
  );
}
