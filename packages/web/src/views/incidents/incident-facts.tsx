/**
 * The evidence the raiser gave with the incident: what was expected and observed, the work
 * order's step log, the people and work orders around the panel, readings from just before;
 * anything else in `detail` as it is.
 */
import { formatTime, formatValue, isoTime } from '../../app/format.ts';
import { dmopFacts } from './incident-detail.ts';

function When({ at }: { at: number }) {
  return <time dateTime={isoTime(at)}>{formatTime(at)}</time>;
}

export function IncidentFacts({ detail }: { detail: Record<string, unknown> }) {
  const f = dmopFacts(detail);
  const hasRest = Object.keys(f.rest).length > 0;
  const structured = f.steps.length + f.people.length + f.workOrders.length + f.readingsBefore.length > 0
    || [f.workOrderId, f.step, f.expected, f.observed].some((v) => v !== undefined);
  if (!structured && !hasRest) return null;
  return (
    <section className="panel" aria-labelledby="incident-facts-title" data-testid="incident-facts">
      <h2 id="incident-facts-title">What was known when it was raised</h2>
      {f.workOrderId !== undefined || f.step !== undefined || f.expected !== undefined || f.observed !== undefined ? (
        <dl className="facts">
          {f.workOrderId !== undefined ? <><dt>Work order</dt><dd className="mono">{f.workOrderId}</dd></> : null}
          {f.step !== undefined ? <><dt>Step</dt><dd>{f.step}</dd></> : null}
          {f.expected !== undefined ? <><dt>Expected</dt><dd data-testid="incident-expected">{f.expected}</dd></> : null}
          {f.observed !== undefined ? <><dt>Observed</dt><dd data-testid="incident-observed">{f.observed}</dd></> : null}
        </dl>
      ) : null}
      {f.steps.length > 0 ? (
        <div className="table-scroll">
          <table data-testid="incident-steps">
            <caption>Step log</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Step</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Detail</th></tr></thead>
            <tbody>
              {f.steps.map((s, i) => (
                <tr key={`${s.seq}-${i}`} data-testid="incident-step" data-step={s.step} data-kind={s.kind}>
                  <td><When at={s.at} /></td><td>{s.step}</td><td>{s.kind}</td><td className="mono">{s.by}</td>
                  <td>{s.note ? <code className="audit-detail">{s.note}</code> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {f.people.length > 0 ? (
        <>
          <h3>People involved</h3>
          <ul data-testid="incident-people">
            {f.people.map((p, i) => (
              <li key={`${p.name}-${p.workOrderId ?? ''}-${i}`} data-testid="incident-person">
                {p.name}{p.workOrderId ? <span className="muted">, on work order {p.workOrderId}</span> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {f.workOrders.length > 0 ? (
        <>
          <h3>Work orders under way nearby</h3>
          <ul data-testid="incident-work-orders">
            {f.workOrders.map((w) => (
              <li key={w.id}>
                <span className="mono">{w.id}</span>{w.title ? ` ${w.title}` : ''}{w.status ? <span className="muted"> ({w.status})</span> : null}
                {w.panels.length > 0 ? <span className="muted">: {w.panels.join(', ')}</span> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {f.readingsBefore.length > 0 ? (
        <div className="table-scroll">
          <table data-testid="incident-readings-before">
            <caption>Readings just before</caption>
            <thead><tr><th scope="col">Point</th><th scope="col">When</th><th scope="col" className="num">Value</th></tr></thead>
            <tbody>
              {f.readingsBefore.map((r, i) => (
                <tr key={`${r.asset ?? ''}-${r.point}-${r.ts}-${i}`}>
                  <td className="mono">{r.asset ? `${r.asset} ` : ''}{r.point}</td><td><When at={r.ts} /></td>
                  <td className="num">{typeof r.value === 'string' ? r.value : formatValue(r.value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {hasRest ? (
        <details data-testid="incident-detail-json" open={!structured}>
          <summary>Other detail</summary>
          <pre>{JSON.stringify(f.rest, null, 2)}</pre>
        </details>
      ) : null}
    </section>
  );
}
