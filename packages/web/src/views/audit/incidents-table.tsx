/**
 * Incidents (GET /incidents, newest first): security-relevant events the server raised itself —
 * a refused attestation, refused telemetry, a panel intrusion — with what happened and why. Each
 * row opens the incident's review (views/incidents), where it is handled as a ticket. A refused
 * attestation also changes the fleet, so `fleet` events re-read the list; the rest is polled.
 */
import { query } from '../../app/api-client.ts';
import type { Incident } from '../../app/api-types.ts';
import { PriorityBadge, StatusBadge } from '../../app/components/badges.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { Link, useSearchParams } from '../../app/router.tsx';
import { useApi } from '../../app/use-api.ts';
import { capitalised, INCIDENT_STATUSES as STATUSES, incidentPath, parseIncidentStatus as parseStatus, STATUS_TONE } from '../incidents/incident-lifecycle.ts';

const LIMIT = 200;

export function IncidentsTable() {
  const [params, setParams] = useSearchParams();
  const status = parseStatus(params.get('incidentStatus'));
  const { state, reload } = useApi<{ incidents: Incident[] }>(`/incidents${query({ status, limit: LIMIT })}`, { reloadOn: ['fleet'], pollMs: 30_000 });
  const incidents = state.data?.incidents ?? [];

  return (
    <section className="panel" aria-labelledby="incidents-title">
      <h2 id="incidents-title">Incidents</h2>
      <div className="toolbar">
        <div className="pill-group" role="group" aria-label="Incident status">
          <button type="button" aria-pressed={status === null} onClick={() => setParams({ incidentStatus: null })}>All</button>
          {STATUSES.map((s) => (
            <button key={s} type="button" aria-pressed={status === s} onClick={() => setParams({ incidentStatus: s })}>{capitalised(s)}</button>
          ))}
        </div>
      </div>
      <StaleNotice error={state.status === 'error' && state.data ? state.error : null} />
      {stateOf(state, {
        onRetry: reload,
        isEmpty: (d) => d.incidents.length === 0,
        empty: status ? `No ${status} incidents.` : 'No incidents: nothing security-relevant has happened.',
        loading: 'Reading incidents…',
      }) ?? (
        <>
          <div className="table-scroll">
            <table data-testid="incidents-table">
              <thead>
                <tr>
                  <th scope="col" className="num">ID</th><th scope="col">Opened</th><th scope="col">Severity</th><th scope="col">Kind</th>
                  <th scope="col">Device</th><th scope="col">Summary</th><th scope="col">Reason</th><th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {incidents.map((i) => (
                  <tr key={i.id} data-testid="incident-row" data-incident-id={i.id} data-status={i.status}>
                    <td className="num"><Link to={incidentPath(i.id)} aria-label={`Review incident ${i.id}`}>#{i.id}</Link></td>
                    <td><time dateTime={isoTime(i.openedAt)}>{formatTime(i.openedAt)}</time></td>
                    <td><PriorityBadge priority={i.severity} /></td>
                    <td className="mono">{i.kind}</td>
                    <td className="mono">{i.deviceId ?? <span className="muted">—</span>}</td>
                    <td><Link to={incidentPath(i.id)}>{i.summary}</Link></td>
                    <td className="mono">{i.reason}</td>
                    <td><StatusBadge tone={STATUS_TONE[i.status]} label={i.status} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {incidents.length >= LIMIT ? <p className="muted">The newest {LIMIT} are shown.</p> : null}
        </>
      )}
    </section>
  );
}
