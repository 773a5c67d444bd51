/**
 * The procedure at a glance (each step done, current or to come), the step log as a timeline —
 * every step done, confirmation, edge seen at the panel, deviation and acknowledgement, with who
 * or what did it — and the deviations of the work order with how each was resolved.
 */
import type { Deviation, DmopWorkOrder, ProcedureTemplate, StepEvent } from '../../app/api-types.ts';
import { formatClock, formatTime, isoTime } from '../../app/format.ts';
import { actorName, logLine } from './procedure-reading.ts';
import { Link } from '../../app/router.tsx';

export function ProcedureSteps({ template, wo }: { template: ProcedureTemplate; wo: DmopWorkOrder }) {
  const active = wo.status === 'released' || wo.status === 'in-progress';
  return (
    <section className="panel" aria-labelledby="procedure-steps-heading">
      <h2 id="procedure-steps-heading">{template.title}: {template.steps.length} steps</h2>
      <ol className="procedure-steps">
        {template.steps.map((s, i) => {
          const state = wo.status === 'completed' || i < wo.currentStep ? 'done' : i === wo.currentStep && active ? 'current' : 'pending';
          return (
            <li key={i} className={`step-${state}`} data-testid="procedure-step" data-step={i + 1} data-state={state} aria-current={state === 'current' ? 'step' : undefined}>
              <span className="step-mark">{state === 'done' ? '✓ done' : state === 'current' ? '▶ now' : `${i + 1}.`}</span>
              <span>{state !== 'pending' ? `${i + 1}. ` : ''}{s.title}</span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

export function StepLog({ events, template }: { events: readonly StepEvent[]; template: ProcedureTemplate }) {
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  return (
    <section className="panel" aria-labelledby="step-log-heading">
      <h2 id="step-log-heading">Step log</h2>
      {ordered.length === 0 ? <p className="muted">Nothing has happened yet.</p> : (
        <ol className="step-log" data-testid="step-log">
          {ordered.map((e) => {
            const line = logLine(e, template);
            return (
              <li key={e.seq} className={`log-${line.tone}`} data-testid="step-log-event" data-kind={e.kind} data-step={e.step === null ? '' : e.step + 1}>
                <div className="log-head">
                  <time dateTime={isoTime(e.at)} title={formatTime(e.at)}>{formatClock(e.at)}</time>
                  <strong>{line.headline}</strong>
                  <span className="muted">by {actorName(e.actor)}</span>
                </div>
                {line.details.map((d) => <p key={d} className="log-detail">{d}</p>)}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

export function DeviationHistory({ deviations }: { deviations: readonly Deviation[] }) {
  if (deviations.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="deviations-heading">
      <h2 id="deviations-heading">Deviations</h2>
      <div className="table-scroll short">
        <table>
          <thead>
            <tr><th scope="col">When</th><th scope="col">Step</th><th scope="col">Expected</th><th scope="col">Observed</th><th scope="col">Resolved</th></tr>
          </thead>
          <tbody>
            {deviations.map((d) => (
              <tr key={d.id} data-testid="deviation-row" data-deviation-id={d.id} data-acknowledged={String(d.acknowledgedAt !== null)}>
                <td><time dateTime={isoTime(d.at)}>{formatTime(d.at)}</time></td>
                <td>{d.step + 1} <span className="muted fine">{d.kind}</span></td>
                <td>{d.expected}</td>
                <td>{d.observed}</td>
                <td>
                  {d.acknowledgedAt !== null
                    ? <span data-testid="deviation-acknowledged-by">acknowledged by {d.acknowledgedBy}: {d.reason}</span>
                    : <strong>open: work paused</strong>}
                  {d.incidentId !== null ? <div className="fine"><Link to={`/incidents/${d.incidentId}`}>incident #{d.incidentId}</Link></div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
