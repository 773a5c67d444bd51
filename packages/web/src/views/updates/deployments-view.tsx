/**
 * Deployments, newest first, filtered by group, stream and state (kept in the address): the
 * release, the group, its state and wave, who started it and why it halted. Engineers start a
 * new one from here (or from a release on the Releases page).
 */
import { useMemo } from 'react';
import { DEPLOYMENT_STATES_LIST, useGroups } from './use-groups.ts';
import type { Deployment, DeploymentState, UpdateStream } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { NotAllowed, PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { can, rolesThatCan } from '../../app/permissions.ts';
import { Link, useSearchParams } from '../../app/router.tsx';
import { useApi } from '../../app/use-api.ts';
import { usePageVisible } from '../panels/live-board.ts';
import { STREAMS, updatesApi, updatesPages } from './update-api.ts';
import { DeploymentStateBadge } from './update-status.tsx';
import { UpdatesNav } from './updates-nav.tsx';
import './updates.css';

const LIST_POLL_MS = 5_000;

export default function DeploymentsView() {
  const role = useRole();
  const mayManage = can(role, 'deployment.manage');
  const [params, setParams] = useSearchParams();
  const group = params.get('group') ?? '';
  const streamParam = params.get('stream');
  const stream: UpdateStream | '' = streamParam === 'application' || streamParam === 'platform' ? streamParam : '';
  const stateParam = params.get('state');
  const state: DeploymentState | '' = (DEPLOYMENT_STATES_LIST as readonly string[]).includes(stateParam ?? '') ? (stateParam as DeploymentState) : '';
  const visible = usePageVisible();
  const list = useApi<{ deployments: Deployment[] }>(updatesApi.deployments({ group, stream, state, limit: 200 }), visible ? { pollMs: LIST_POLL_MS } : {});
  const groups = useGroups();
  const groupOptions = useMemo(() => [...new Set([...groups.names, ...(group ? [group] : [])])].sort(), [groups.names, group]);

  const placeholder = stateOf(list.state, {
    onRetry: list.reload, loading: 'Loading deployments…', isEmpty: (d) => d.deployments.length === 0,
    empty: group || stream || state ? 'No deployment matches these filters.' : 'No deployment yet. Deploy a signed release to a group of guardians to start one.',
  });

  return (
    <>
      <PageHeader
        title="Deployments"
        subtitle="Signed releases rolled out to device groups in waves, halted on failures. Re-read every 5 s."
        actions={mayManage ? <Link to={updatesPages.newDeployment} className="button-link" data-testid="new-deployment">New deployment</Link> : undefined}
      />
      <UpdatesNav />
      {!mayManage ? <NotAllowed action="start or change deployments" roles={rolesThatCan('deployment.manage')} /> : null}
      <div className="toolbar" role="search" aria-label="Filter deployments">
        <label className="inline-field">
          <span>Group</span>
          <select value={group} onChange={(e) => setParams({ group: e.target.value })} data-testid="deployment-filter-group">
            <option value="">all groups</option>
            {groupOptions.map((g) => <option key={g} value={g}>{g}</option>)}
          </select>
        </label>
        <label className="inline-field">
          <span>Stream</span>
          <select value={stream} onChange={(e) => setParams({ stream: e.target.value })} data-testid="deployment-filter-stream">
            <option value="">both streams</option>
            {STREAMS.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label className="inline-field">
          <span>State</span>
          <select value={state} onChange={(e) => setParams({ state: e.target.value })} data-testid="deployment-filter-state">
            <option value="">any state</option>
            {DEPLOYMENT_STATES_LIST.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      <section className="panel" aria-label="Deployments">
        <StaleNotice error={list.state.status === 'error' && list.state.data ? list.state.error : null} />
        {placeholder ?? (
          <div className="table-scroll">
            <table data-testid="deployment-table">
              <thead>
                <tr>
                  <th scope="col">Release</th><th scope="col">Group</th><th scope="col">State</th><th scope="col">Wave</th>
                  <th scope="col">Started</th><th scope="col"><span className="sr-only">Open</span></th>
                </tr>
              </thead>
              <tbody>
                {list.state.data!.deployments.map((d) => (
                  <tr key={d.id} data-testid="deployment-row" data-deployment-id={d.id} data-state={d.state}>
                    <td>
                      <Link to={updatesPages.deployment(d.id)}>{d.product} {d.version}</Link>
                      <div className="muted fine">{d.stream} stream</div>
                    </td>
                    <td>{d.group}</td>
                    <td>
                      <DeploymentStateBadge state={d.state} />
                      {d.state === 'halted' && d.haltedReason ? <div className="fine">{d.haltedReason}</div> : null}
                    </td>
                    <td>{d.currentWave} of {d.waveCount}</td>
                    <td><time dateTime={isoTime(d.createdAt)}>{formatTime(d.createdAt)}</time><div className="muted fine">by {d.createdBy}</div></td>
                    <td><Link to={updatesPages.deployment(d.id)} className="button-link" aria-label={`Open the deployment of ${d.product} ${d.version} to ${d.group}`}>Open</Link></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
