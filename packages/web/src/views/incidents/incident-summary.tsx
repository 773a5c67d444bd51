/** The facts of an incident at a glance: what, where, how bad, where it stands and who has it. */
import type { IncidentTicket } from '../../app/api-types.ts';
import { PriorityBadge, StatusBadge } from '../../app/components/badges.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { Link, pathTo } from '../../app/router.tsx';
import { STATUS_TONE } from './incident-lifecycle.ts';

export function IncidentSummary({ incident: i }: { incident: IncidentTicket }) {
  return (
    <section className="panel" aria-labelledby="incident-summary-title" data-testid="incident-summary">
      <h2 id="incident-summary-title">Summary</h2>
      <p>{i.summary}</p>
      <dl className="facts">
        <dt>Status</dt>
        <dd data-testid="incident-status" data-status={i.status}><StatusBadge tone={STATUS_TONE[i.status]} label={i.status} /></dd>
        <dt>Severity</dt><dd><PriorityBadge priority={i.severity} /></dd>
        <dt>Kind</dt><dd className="mono">{i.kind}</dd>
        <dt>Reason</dt><dd className="mono">{i.reason}</dd>
        {i.site ? (
          <>
            <dt>Where</dt>
            <dd>{i.asset ? <Link to={pathTo('/assets/:site/:asset', { site: i.site, asset: i.asset })}>{i.site} / {i.asset}</Link> : i.site}</dd>
          </>
        ) : null}
        {i.deviceId ? <><dt>Guardian</dt><dd className="mono">{i.deviceId}</dd></> : null}
        <dt>Assignee</dt>
        <dd data-testid="incident-assignee">{i.assignee ?? <span className="muted">unassigned</span>}</dd>
        <dt>Opened</dt><dd><time dateTime={isoTime(i.openedAt)}>{formatTime(i.openedAt)}</time></dd>
        <dt>Last change</dt><dd><time dateTime={isoTime(i.updatedAt)}>{formatTime(i.updatedAt)}</time></dd>
      </dl>
    </section>
  );
}
