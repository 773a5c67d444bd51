/** The dialog of a ReasonAction: what it does, the required reason, and the server's refusal. */
import { ActionDialog } from '../../app/components/dialog.tsx';
import type { ReasonAction } from './reason-action.ts';

export function ReasonDialog({ action }: { action: ReasonAction }) {
  const r = action.request;
  return (
    <ActionDialog
      open={r !== null}
      title={r?.title ?? ''}
      confirmLabel={r?.confirmLabel ?? 'Confirm'}
      comment={{ label: r?.reasonLabel ?? 'Reason', required: true }}
      danger={r?.danger === true}
      busy={action.busy}
      error={action.error}
      onConfirm={(reason) => void action.confirm(reason)}
      onCancel={action.cancel}
    >
      {r ? <p>{r.explanation}</p> : null}
    </ActionDialog>
  );
}
