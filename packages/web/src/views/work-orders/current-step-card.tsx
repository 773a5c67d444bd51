/**
 * The step the technician is on, big enough to read at arm's length: step n of m, its title, its
 * warnings first and loud, what to do now (the server's own words), what the panel must show for
 * it to count, and for a confirmation step the prompt and a Confirm button for the assigned
 * technician.
 */
import { useId, useState } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import type { DmopWorkOrderDetail, SessionUser } from '../../app/api-types.ts';
import { NotAllowed } from '../../app/components/page.tsx';
import { isWorker, mayConfirm } from '../panels/dmop-roles.ts';
import { expectedChanges, type Units } from './procedure-reading.ts';
import { dmopApi } from './dmop-api.ts';

export interface CurrentStepCardProps {
  detail: DmopWorkOrderDetail;
  user: SessionUser | null;
  units: Units;
  onConfirmed(): void;
}

export function CurrentStepCard({ detail, user, units, onConfirmed }: CurrentStepCardProps) {
  const { workOrder: wo, template } = detail;
  const count = template.steps.length;
  const index = Math.min(wo.currentStep, count - 1);
  const step = template.steps[index];
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const noteId = useId();
  const headingId = useId();
  if (!step) return null;
  const done = wo.status === 'completed' || wo.currentStep >= count;
  const notYet = wo.status === 'draft' || wo.status === 'approved';
  const held = detail.paused;
  const awaiting = step.kind === 'operate' && wo.operatedAt !== null && !held;

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.post(dmopApi.confirm(wo.id, index + 1), note.trim() ? { note: note.trim() } : {});
      setNote('');
      onConfirmed();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  if (done || wo.status === 'aborted') return null;
  return (
    <section className={`step-card${held ? ' held' : ''}`} aria-labelledby={headingId} data-testid="current-step" data-step={index + 1} data-kind={step.kind} data-count={count}>
      <p className="step-number" data-testid="current-step-number">{notYet ? 'First step' : 'Now'}: step {index + 1} of {count}</p>
      <h2 id={headingId} data-testid="current-step-title">{step.title}</h2>
      {step.warnings.length > 0 ? (
        <ul className="step-warnings" aria-label="Warnings">
          {step.warnings.map((w) => <li key={w} data-testid="step-warning"><span aria-hidden="true">⚠ </span>{w}</li>)}
        </ul>
      ) : null}
      {detail.expected ? <p className="step-do" data-testid="step-expected"><strong>Do now:</strong> {detail.expected}</p> : null}
      <h3>The panel must show</h3>
      <ul className="step-expect">
        {expectedChanges(step, wo.bindings, units).map((line) => <li key={line} data-testid="step-expect-change">{line}</li>)}
      </ul>
      {awaiting ? <p className="notice" data-testid="step-awaiting" role="status">Operated: waiting for the measurements to follow.</p> : null}
      {step.kind === 'confirm' ? (
        <div className="step-confirm">
          <p className="prompt">{step.prompt}</p>
          {mayConfirm(user, wo, step) ? (
            <>
              <label htmlFor={noteId} className="field">
                <span>Note (optional)</span>
                <textarea id={noteId} rows={2} maxLength={1000} value={note} onChange={(e) => setNote(e.target.value)} />
              </label>
              <button type="button" className="primary touch" data-testid="confirm-step" disabled={busy || held || notYet} onClick={() => void confirm()}>
                {busy ? 'Confirming…' : `Confirm step ${index + 1}`}
              </button>
              {held ? <p className="muted">Confirming waits until the work may go on.</p> : null}
            </>
          ) : (
            <NotAllowed action="confirm this step" roles={`${isWorker(user, wo) ? step.roles.join(' or ') : `a technician assigned to this work order (${wo.assignees.join(', ')})`}`} />
          )}
          {error ? <p className="form-error" role="alert">{error}</p> : null}
        </div>
      ) : null}
    </section>
  );
}
