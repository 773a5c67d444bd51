/**
 * The version report of a group on a stream (GET /groups/:group/version-report): the target its
 * newest deployment sets, every device's running version (from its update status or its
 * attestation, and whether attested), and the mismatches — counted prominently, listed first.
 */
import type { GroupVersionReport, UpdateStream } from '../../app/api-types.ts';
import { StatusBadge } from '../../app/components/badges.tsx';
import { PageHeader } from '../../app/components/page.tsx';
import { EmptyState, StaleNotice, stateOf } from '../../app/components/states.tsx';
import { Link, useSearchParams } from '../../app/router.tsx';
import { useApi } from '../../app/use-api.ts';
import { shortId } from '../fleet/guardian-status.ts';
import { usePageVisible } from '../panels/live-board.ts';
import { STREAMS, updatesApi, updatesPages } from './update-api.ts';
import { DeploymentStateBadge } from './update-status.tsx';
import { UpdatesNav } from './updates-nav.tsx';
import { useGroups } from './use-groups.ts';
import './updates.css';

const SOURCE_LABEL = { status: 'update status', attestation: 'attestation', unknown: 'unknown' } as const;

function Report({ group, stream }: { group: string; stream: UpdateStream }) {
  const visible = usePageVisible();
  const report = useApi<GroupVersionReport>(updatesApi.versionReport(group, stream), visible ? { pollMs: 10_000, reloadOn: ['fleet'] } : { reloadOn: ['fleet'] });
  const other = stateOf(report.state, { onRetry: report.reload, loading: 'Loading the version report…' });
  if (other) return <>{other}</>;
  const r = report.state.data!;
  const mismatched = new Set(r.mismatches.map((m) => m.deviceId));
  // Mismatches first, then the rest, each by device id.
  const rows = [...r.devices].sort((a, b) => Number(mismatched.has(b.deviceId)) - Number(mismatched.has(a.deviceId)) || a.deviceId.localeCompare(b.deviceId));
  const count = r.mismatches.length;
  return (
    <section className="panel" aria-labelledby="report-title" data-testid="group-version-report" data-group={r.group} data-stream={r.stream}>
      <h2 id="report-title">{r.group} · {r.stream}</h2>
      <StaleNotice error={report.state.status === 'error' ? report.state.error : null} />
      <div className="cards">
        <div className={`card mismatch-card${count > 0 ? ' card-bad' : ''}`} data-testid="version-mismatches" data-count={count} role="status">
          <div className="value">{count}</div>
          <div className="label">{count === 1 ? 'mismatch' : 'mismatches'}{count === 0 ? ': every device runs the target' : ''}</div>
        </div>
        <div className="card" data-testid="version-target" data-version={r.target?.version ?? ''}>
          <div className="value">{r.target?.version ?? '—'}</div>
          <div className="label">
            {r.target ? <>target, from <Link to={updatesPages.deployment(r.target.deploymentId)}>its deployment</Link> <DeploymentStateBadge state={r.target.state} /></> : 'no target: nothing deployed to this group on this stream'}
          </div>
        </div>
        <div className="card" data-testid="version-devices" data-count={r.devices.length}>
          <div className="value">{r.devices.length}</div>
          <div className="label">devices</div>
        </div>
      </div>
      {rows.length === 0 ? <EmptyState>No device in this group.</EmptyState> : (
        <div className="table-scroll">
          <table aria-label={`Versions of ${r.group} on the ${r.stream} stream`} data-testid="version-report-table">
            <thead><tr><th scope="col">Device</th><th scope="col">Runs</th><th scope="col">Known from</th><th scope="col">Attested</th><th scope="col">Matches</th><th scope="col">Reason</th></tr></thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.deviceId} data-testid="version-report-row" data-device-id={d.deviceId} data-matches={String(d.matches)}>
                  <td><code title={d.deviceId}>{shortId(d.deviceId)}</code></td>
                  <td>{d.running ?? <span className="muted">unknown</span>}</td>
                  <td>{SOURCE_LABEL[d.source] ?? d.source}</td>
                  <td>{d.attested ? <StatusBadge tone="ok" label="attested" /> : <StatusBadge tone="warn" label="not attested" />}</td>
                  <td>{d.matches ? <StatusBadge tone="ok" label="matches" /> : <StatusBadge tone="bad" label="mismatch" />}</td>
                  <td>{d.reason ?? <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export default function VersionReportView() {
  const [params, setParams] = useSearchParams();
  const groups = useGroups();
  const groupParam = params.get('group') ?? '';
  const group = groupParam || groups.names[0] || '';
  const stream: UpdateStream = params.get('stream') === 'platform' ? 'platform' : 'application';
  const options = [...new Set([...groups.names, ...(groupParam ? [groupParam] : [])])].sort();
  return (
    <>
      <PageHeader title="Version report" subtitle="What each device of a group runs on a stream, against the group's target release." />
      <UpdatesNav />
      <div className="toolbar" role="search" aria-label="Choose the group and stream">
        <label className="inline-field">
          <span>Group</span>
          <select value={group} onChange={(e) => setParams({ group: e.target.value })} data-testid="version-report-group">
            {options.length === 0 ? <option value="">{groups.loading ? 'loading groups…' : 'no group yet'}</option> : null}
            {options.map((g) => <option key={g} value={g}>{g}</option>)}
          </select>
        </label>
        <div className="pill-group" role="group" aria-label="Stream">
          {STREAMS.map((s) => (
            <button key={s} type="button" aria-pressed={stream === s} onClick={() => setParams({ stream: s === 'application' ? null : s })} data-testid={`version-report-stream-${s}`}>{s}</button>
          ))}
        </div>
      </div>
      {group ? <Report group={group} stream={stream} /> : groups.loading ? null : <EmptyState>No group has guardians yet: claim guardians into a group first.</EmptyState>}
    </>
  );
}
