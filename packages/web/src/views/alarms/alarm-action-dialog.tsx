/**
 * The dialog of an action on one alarm: what it will do, a comment (required where the action
 * hides an alarm or takes it out of service), for shelving its kind and duration, and the
 * server's own message when it refuses.
 */
import { useId, useState } from 'react';
import type { Alarm } from '../../app/api-types.ts';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { ACTION_SPECS, defaultShelveDuration, shelveDurationLabel, shelveDurations, type AlarmAction, type ShelveChoice } from './alarm-actions.ts';

export interface ActionRequest {
  alarm: Alarm;
  action: AlarmAction;
}

export interface AlarmActionDialogProps {
  request: ActionRequest | null;
  /** The alarm rule's maxShelveMs, when known. */
  maxShelveMs: number | null;
  busy: boolean;
  error: string | null;
  onConfirm(request: ActionRequest, comment: string, shelve: ShelveChoice): void;
  onCancel(): void;
}

const EXPLANATION: Record<AlarmAction, string> = {
  acknowledge: 'Acknowledging says an operator has seen the alarm. It stays in the list while its condition is active.',
  shelve: 'A shelved alarm is not shown to operators until it is unshelved or the shelving ends. The reason is kept in its history and the audit log.',
  unshelve: 'The alarm is shown again; if its condition is still active it comes back unacknowledged.',
  'remove-from-service': 'An alarm out of service is not shown at all until it is returned to service (e.g. a broken transmitter awaiting repair).',
  'return-to-service': 'The alarm is evaluated and shown again; if its condition is active it comes back unacknowledged.',
};

function describe(alarm: Alarm): string {
  return alarm.kind === 'flood' ? `the alarm flood at ${alarm.site}` : `${alarm.site}/${alarm.asset} ${alarm.point}: ${alarm.description}`;
}

function initialShelve(durations: readonly number[]): ShelveChoice {
  return { kind: 'timed', durationMs: defaultShelveDuration(durations) };
}

export function AlarmActionDialog({ request, maxShelveMs, busy, error, onConfirm, onCancel }: AlarmActionDialogProps) {
  const durations = shelveDurations(maxShelveMs);
  const [shelve, setShelve] = useState(() => ({ for: request, choice: initialShelve(durations) }));
  // A new request starts from the defaults again (adjusting state to a prop, not an effect).
  if (shelve.for !== request) setShelve({ for: request, choice: initialShelve(durations) });
  // The rule's limit may arrive after the dialog opened: a choice beyond it falls back to the default.
  const choice = durations.includes(shelve.choice.durationMs) ? shelve.choice : { ...shelve.choice, durationMs: defaultShelveDuration(durations) };
  const setChoice = (next: Partial<ShelveChoice>) => setShelve((s) => ({ ...s, choice: { ...s.choice, ...next } }));
  const kindName = useId();
  const durationId = useId();

  const spec = request ? ACTION_SPECS[request.action] : null;
  const alarm = request?.alarm;
  const oneShotPossible = alarm?.active === true;
  const fields = request?.action === 'shelve' ? (
    <>
      <fieldset className="field alarm-shelve-kind">
        <legend>How long</legend>
        <label className="inline-field">
          <input type="radio" name={kindName} value="timed" checked={choice.kind === 'timed'} onChange={() => setChoice({ kind: 'timed' })} />
          For a time
        </label>
        <label className="inline-field">
          <input type="radio" name={kindName} value="one-shot" checked={choice.kind === 'one-shot'} disabled={!oneShotPossible} onChange={() => setChoice({ kind: 'one-shot' })} />
          Until it clears (one-shot){oneShotPossible ? '' : ': only for an active alarm'}
        </label>
      </fieldset>
      {choice.kind === 'timed' ? (
        <label htmlFor={durationId} className="field">
          <span>Duration</span>
          <select id={durationId} value={choice.durationMs} onChange={(e) => setChoice({ durationMs: Number(e.target.value) })}>
            {durations.map((d) => <option key={d} value={d}>{shelveDurationLabel(d)}</option>)}
          </select>
        </label>
      ) : null}
      <p className="muted">
        {maxShelveMs !== null
          ? `This alarm's rule allows shelving for at most ${shelveDurationLabel(maxShelveMs)}${choice.kind === 'one-shot' ? '; one-shot shelving ends then too' : ''}.`
          : 'The server refuses shelving longer than the alarm\'s rule allows.'}
      </p>
    </>
  ) : undefined;

  return (
    <ActionDialog
      open={request !== null}
      title={spec && alarm ? `${spec.label}: ${alarm.kind === 'flood' ? alarm.site : `${alarm.asset} ${alarm.point}`}` : 'Alarm'}
      confirmLabel={spec?.label ?? 'Confirm'}
      {...(spec ? { comment: spec.comment } : {})}
      {...(fields ? { fields } : {})}
      danger={spec?.danger === true}
      busy={busy}
      error={error}
      onConfirm={(comment) => { if (request) onConfirm(request, comment, choice); }}
      onCancel={onCancel}
    >
      {request && alarm ? (
        <>
          <p>{describe(alarm)}</p>
          <p className="muted">{EXPLANATION[request.action]}</p>
        </>
      ) : null}
    </ActionDialog>
  );
}
