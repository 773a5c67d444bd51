/**
 * Incidents to review, newest first, filtered by status and kind (the server filters; both live
 * in the address, so a link to "open panel intrusions" shows exactly that). Each row opens the
 * incident's review. Nothing announces incident changes on the live stream, so the list is polled.
 */
import { query } from '../../app/api-client.ts';
import type { Incident } from '../../app/api-types.ts';
import { PriorityBadge, StatusBadge } from '../../app/components/badges.tsx';
import { PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { Link, useSearchParams } from '../../app/router.tsx';
import { useApi } from '../../app/use-api.ts';
import { capitalised, INCIDENT_STATUSES, incidentPath, KNOWN_INCIDENT_KINDS, parseIncidentStatus, STATUS_TONE } from './incident-lifecycle.ts';

const LIMIT = 200;
const KIND_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export default function IncidentListView() {
  const [params, setParams] = useSearchParams();
  const status = parseIncidentStatus(params.get('status'));
  const rawKind = params.get('kind') ?? '';
  const kind = KIND_PATTERN.test(rawKind) ? rawKind : null;
  const { state, reload } = useApi<{ incidents: Incident[] }>(`/incidents${query({ status, kind, limit: LIMIT })}`, { pollMs: 30_000 });
  const incidents = state.data?.incidents ?? [];
  const kinds = [...new Set<string>([...KNOWN_INCIDENT_KINDS, ...incidents.map((i) => i.kind), ...(kind ? [kind] : [])])];

  return (
    <>
      <PageHeader title="Incidents" subtitle="What went wrong and needs a person: panel intrusions, DMOP deviations, refused attestations. Open one to review its evidence, assign it and record what was learned." />
      <section className="panel" aria-labelledby="incident-list-title">
        <h2 id="incident-list-title">Incidents to review</h2>
        <div className="toolbar">
          <div className="pill-group" role="group" aria-label="Status" data-testid="incident-filter-status">
            <button type="button" aria-pressed={status === null} onClick={() => setParams({ status: null })}>All</button>
            {INCIDENT_STATUSES.map((s) => (
              <button key={s} type="button" aria-pressed={status === s} data-status={s} onClick={() => setParams({ status: s })}>{capitalised(s)}</button>
            ))}
          </div>
          <label className="inline-field">
            Kind
            <select value={kind ?? ''} onChange={(e) => setParams({ kind: e.target.value })} data-testid="incident-filter-kind">
              <option value="">All kinds</option>
              {kinds.map((k) => <option key={k} value={k}>{k}</option>)}
            </select>
          </label>
          <button type="button" onClick={reload} disabled={state.status === 'loading'}>Refresh</button>
        </div>
        <StaleNotice error={state.status === 'error' && state.data ? state.error : null} />
        {stateOf(state, {
          onRetry: reload,
          isEmpty: (d) => d.incidents.length === 0,
          empty: status || kind ? 'No incidents match these filters.' : 'No incidents: nothing has needed a person yet.',
          loading: 'Reading incidents…',
        }) ?? (
          <>
            <div className="table-scroll">
              <table data-testid="incident-review-table">
                <thead>
                  <tr>
                    <th scope="col" className="num">ID</th><th scope="col">Opened</th><th scope="col">Severity</th><th scope="col">Kind</th>
                    <th scope="col">Where</th><th scope="col">Summary</th><th scope="col">Assignee</th><th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {incidents.map((i) => (
                    <tr key={i.id} data-testid="incident-review-row" data-incident-id={i.id} data-status={i.status} data-kind={i.kind}>
                      <td className="num"><Link to={incidentPath(i.id)}>#{i.id}</Link></td>
                      <td><time dateTime={isoTime(i.openedAt)}>{formatTime(i.openedAt)}</time></td>
                      <td><PriorityBadge priority={i.severity} /></td>
                      <td className="mono">{i.kind}</td>
                      <td className="mono">{i.site ? `${i.site}${i.asset ? ` / ${i.asset}` : ''}` : i.deviceId ?? <span className="muted">—</span>}</td>
                      <td><Link to={incidentPath(i.id)}>{i.summary}</Link></td>
                      <td>{i.assignee ?? <span className="muted">unassigned</span>}</td>
                      <td><StatusBadge tone={STATUS_TONE[i.status]} label={i.status} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {incidents.length >= LIMIT ? <p className="muted">The newest {LIMIT} are shown; filter to see older ones.</p> : null}
          </>
        )}
      </section>
    </>
  );
}
