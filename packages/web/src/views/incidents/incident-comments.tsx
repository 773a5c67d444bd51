/** Comments, oldest first, and a field to add one: what was seen on site, done, or learned. */
import { useId, useState, type FormEvent } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import type { IncidentComment } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { NotAllowed } from '../../app/components/page.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { can, rolesThatCan } from '../../app/permissions.ts';

const MAX_COMMENT = 4000;

export interface IncidentCommentsProps {
  incidentId: number;
  comments: readonly IncidentComment[];
  onAdded(): void;
}

export function IncidentComments({ incidentId, comments, onAdded }: IncidentCommentsProps) {
  const role = useRole();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fieldId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (text.trim() === '') return;
    setBusy(true);
    setError(null);
    try {
      await api.post(`/incidents/${incidentId}/comments`, { text: text.trim() });
      setText('');
      onAdded();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="incident-comments-title" data-testid="incident-comments">
      <h2 id="incident-comments-title">Comments</h2>
      {comments.length === 0 ? <p className="muted">No comments yet.</p> : (
        <ol className="incident-comments">
          {comments.map((c) => (
            <li key={c.id} data-testid="incident-comment" data-comment-id={c.id}>
              <div className="muted fine"><span className="mono">{c.author}</span>, <time dateTime={isoTime(c.at)}>{formatTime(c.at)}</time></div>
              <p className="incident-comment-text">{c.text}</p>
            </li>
          ))}
        </ol>
      )}
      {can(role, 'incident.comment') ? (
        <form onSubmit={(e) => void submit(e)}>
          <label htmlFor={fieldId} className="field">
            <span>Add a comment</span>
            <textarea id={fieldId} value={text} onChange={(e) => setText(e.target.value)} rows={3} maxLength={MAX_COMMENT} data-testid="incident-comment-input" />
          </label>
          {error ? <p className="form-error" role="alert">{error}</p> : null}
          <button type="submit" className="primary" disabled={busy || text.trim() === ''} data-testid="incident-comment-submit">
            {busy ? 'Adding…' : 'Add comment'}
          </button>
        </form>
      ) : <NotAllowed action="comment on incidents" roles={rolesThatCan('incident.comment')} />}
    </section>
  );
}
