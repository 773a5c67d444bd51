/**
 * The next move on an incident: change its status (only the moves the server takes from here,
 * with a note where it asks for one) and assign it. Roles that cannot are told so rather than
 * shown buttons that answer 403 (permissions.ts mirrors incident-routes.ts).
 */
import { useId, useState, type FormEvent } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import type { IncidentTicket } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { NotAllowed } from '../../app/components/page.tsx';
import { can, rolesThatCan } from '../../app/permissions.ts';
import { INCIDENT_MOVES, type StatusMove } from './incident-lifecycle.ts';

export interface IncidentActionsProps {
  incident: IncidentTicket;
  onChanged(): void;
}

function StatusMoves({ incident, onChanged }: IncidentActionsProps) {
  const [move, setMove] = useState<StatusMove | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const moves = INCIDENT_MOVES[incident.status];

  const confirm = async (note: string) => {
    if (!move) return;
    setBusy(true);
    setError(null);
    try {
      await api.post(`/incidents/${incident.id}/status`, { status: move.to, ...(note ? { note } : {}) });
      setMove(null);
      onChanged();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  if (moves.length === 0) return <p className="muted">Closed incidents are final: if it happens again, it is a new incident.</p>;
  return (
    <>
      <div className="toolbar" role="group" aria-label="Change the status">
        {moves.map((m) => (
          <button key={m.to} type="button" onClick={() => { setError(null); setMove(m); }} data-testid="incident-status-action" data-to={m.to}>{m.label}</button>
        ))}
      </div>
      <ActionDialog
        open={move !== null}
        title={move ? `${move.label}: incident #${incident.id}` : ''}
        confirmLabel={move?.label ?? 'Confirm'}
        busy={busy}
        error={error}
        comment={{ label: 'Note', required: move?.noteRequired ?? false }}
        danger={move?.to === 'closed'}
        onConfirm={(note) => void confirm(note)}
        onCancel={() => setMove(null)}
      >
        <p>{move?.explanation}</p>
      </ActionDialog>
    </>
  );
}

function Assign({ incident, onChanged }: IncidentActionsProps) {
  const [draft, setDraft] = useState({ for: incident.assignee ?? '', value: incident.assignee ?? '' });
  // The field follows the incident when someone else reassigns it meanwhile.
  if (draft.for !== (incident.assignee ?? '')) setDraft({ for: incident.assignee ?? '', value: incident.assignee ?? '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputId = useId();

  const send = async (assignee: string | null) => {
    setBusy(true);
    setError(null);
    try {
      await api.post(`/incidents/${incident.id}/assign`, { assignee });
      onChanged();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const name = draft.value.trim();
    if (name !== '') void send(name);
  };

  if (incident.status === 'closed') return null;
  return (
    <form className="toolbar" onSubmit={submit} aria-label="Assign the incident">
      <label className="inline-field" htmlFor={inputId}>
        Assignee
        <input id={inputId} type="text" value={draft.value} maxLength={128} placeholder="username" autoComplete="off"
          onChange={(e) => setDraft({ ...draft, value: e.target.value })} data-testid="incident-assign-input" />
      </label>
      <button type="submit" disabled={busy || draft.value.trim() === '' || draft.value.trim() === incident.assignee} data-testid="incident-assign-submit">
        {busy ? 'Assigning…' : 'Assign'}
      </button>
      {incident.assignee ? <button type="button" disabled={busy} onClick={() => void send(null)} data-testid="incident-unassign">Unassign</button> : null}
      {error ? <p className="form-error" role="alert">{error}</p> : null}
    </form>
  );
}

export function IncidentActions(props: IncidentActionsProps) {
  const role = useRole();
  const mayHandle = can(role, 'incident.status') && can(role, 'incident.assign');
  return (
    <section className="panel" aria-labelledby="incident-actions-title" data-testid="incident-actions">
      <h2 id="incident-actions-title">Handle it</h2>
      {mayHandle ? (
        <>
          <StatusMoves {...props} />
          <Assign {...props} />
        </>
      ) : <NotAllowed action="assign incidents or change their status" roles={rolesThatCan('incident.status')} />}
    </section>
  );
}
