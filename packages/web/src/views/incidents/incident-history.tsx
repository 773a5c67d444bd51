/** Every change of the incident, oldest first, with who made it and when (the server's history; the audit log holds the same). */
import type { IncidentChange } from '../../app/api-types.ts';
import { formatTime, isoTime } from '../../app/format.ts';

const str = (v: unknown): string => (v === null || v === undefined ? 'nobody' : String(v));

/** One change in words. */
export function describeChange(c: IncidentChange): string {
  const d = c.detail;
  switch (c.kind) {
    case 'opened': return `Opened (${str(d.kind)}, ${str(d.severity)}: ${str(d.reason)})${d.announced === true ? ', announced' : ''}`;
    case 'assigned': return `Assigned to ${str(d.to)} (was ${str(d.from)})`;
    case 'commented': return 'Commented';
    case 'status': return `Status ${str(d.from)} → ${str(d.to)}${typeof d.note === 'string' ? `: ${d.note}` : ''}`;
    case 'evidence': return d.state === 'captured'
      ? `Telemetry of ${str(d.asset)} captured (${str(d.samples)} samples, SHA-256 ${String(d.sha256 ?? '').slice(0, 12)}…)`
      : `Telemetry of ${str(d.asset)} could not be captured: ${str(d.error)}`;
    default: return c.kind;
  }
}

export function IncidentHistory({ history }: { history: readonly IncidentChange[] }) {
  return (
    <section className="panel" aria-labelledby="incident-history-title" data-testid="incident-history">
      <h2 id="incident-history-title">History</h2>
      <div className="table-scroll">
        <table>
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th></tr></thead>
          <tbody>
            {history.map((c) => (
              <tr key={c.seq} data-testid="incident-history-event" data-kind={c.kind}>
                <td><time dateTime={isoTime(c.at)}>{formatTime(c.at)}</time></td>
                <td className="mono">{c.actor}</td>
                <td>{describeChange(c)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
