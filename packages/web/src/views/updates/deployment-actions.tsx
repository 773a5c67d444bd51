/**
 * What an engineer does to a running rollout: pause (no device is instructed until resumed),
 * resume, abort (final: devices that have not installed stay on their version) and, for a
 * deployment that waits for maintenance windows, start the installs inside one. Each asks first
 * and says what it does; the reason goes into the audit log. The server decides (deployment
 * states, windows) and its refusal is shown as it says it.
 */
import { useState } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import type { Deployment, DeploymentView } from '../../app/api-types.ts';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { updatesApi } from './update-api.ts';

export type DeploymentAction = 'pause' | 'resume' | 'abort' | 'start-installs';

interface ActionSpec {
  label: string;
  explanation: (d: Deployment) => string;
  /** The reason field; required when `required`. Start-installs takes none. */
  reason?: { label: string; required: boolean };
  danger?: boolean;
  applies(d: Deployment): boolean;
}

export const DEPLOYMENT_ACTIONS: Record<DeploymentAction, ActionSpec> = {
  pause: {
    label: 'Pause',
    explanation: (d) => `Pause the rollout of ${d.product} ${d.version} to ${d.group}: no further device is instructed until it is resumed. Devices already updating go on and are still judged.`,
    reason: { label: 'Why (kept in the audit log)', required: false },
    applies: (d) => d.state === 'running',
  },
  resume: {
    label: 'Resume',
    explanation: (d) => `Resume the rollout of ${d.product} ${d.version} to ${d.group}: waves continue where they stopped.`,
    reason: { label: 'Why (kept in the audit log)', required: false },
    applies: (d) => d.state === 'paused',
  },
  'start-installs': {
    label: 'Start installs',
    explanation: (d) => `Tell the devices of ${d.group} that have downloaded ${d.version} to install now, until the current maintenance window closes. Only inside a window.`,
    applies: (d) => d.state === 'running' && d.policy.maintenanceWindows.length > 0 && !d.policy.autoApply,
  },
  abort: {
    label: 'Abort',
    explanation: (d) => `Abort the rollout of ${d.product} ${d.version} to ${d.group}. This is final: devices that have not installed stay on their version; a new deployment is needed to continue.`,
    reason: { label: 'Why it is aborted (kept in the audit log)', required: true },
    danger: true,
    applies: (d) => d.state === 'running' || d.state === 'paused' || d.state === 'halted',
  },
};

export const ACTION_ORDER: readonly DeploymentAction[] = ['pause', 'resume', 'start-installs', 'abort'];

export function availableActions(d: Deployment): DeploymentAction[] {
  return ACTION_ORDER.filter((a) => DEPLOYMENT_ACTIONS[a].applies(d));
}

export function DeploymentActions({ deployment, onDone }: { deployment: Deployment; onDone(view: DeploymentView): void }) {
  const [asking, setAsking] = useState<DeploymentAction | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const actions = availableActions(deployment);
  const spec = asking ? DEPLOYMENT_ACTIONS[asking] : null;

  const confirm = async (reason: string) => {
    if (!asking) return;
    setBusy(true);
    setError(null);
    try {
      const body = asking === 'start-installs' || reason === '' ? {} : { reason };
      const view = await api.post<DeploymentView>(updatesApi.action(deployment.id, asking), body);
      setAsking(null);
      onDone(view);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <div className="page-actions" role="group" aria-label="Deployment actions" data-testid="deployment-actions">
        {actions.length === 0 ? <span className="muted">No action applies: the deployment has {deployment.state === 'completed' ? 'completed' : 'ended'}.</span> : null}
        {actions.map((a) => (
          <button key={a} type="button" className={DEPLOYMENT_ACTIONS[a].danger ? 'danger-outline' : a === 'resume' ? 'primary' : undefined}
            data-testid={`deployment-${a}`} onClick={() => { setError(null); setAsking(a); }}>
            {DEPLOYMENT_ACTIONS[a].label}
          </button>
        ))}
      </div>
      <ActionDialog
        open={asking !== null}
        title={spec ? `${spec.label}: ${deployment.product} ${deployment.version} → ${deployment.group}` : 'Deployment'}
        confirmLabel={spec?.label ?? 'Confirm'}
        {...(spec?.reason ? { comment: spec.reason } : {})}
        danger={spec?.danger === true}
        busy={busy}
        error={error}
        onConfirm={(reason) => void confirm(reason)}
        onCancel={() => { setError(null); setAsking(null); }}
      >
        {spec ? <p>{spec.explanation(deployment)}</p> : null}
      </ActionDialog>
    </>
  );
}
