/**
 * One deployment, live: its state (and why it halted), overall and wave-by-wave progress, its
 * policy and release, the engineer's actions, and every device with its state, reason, running
 * version and history. The server sends no live event for rollouts, so while the page is visible
 * it re-reads GET /deployments/:id and its devices every 2 s (a deployment that has ended, every
 * 30 s); what is shown is replaced in place, never flashed back to "loading".
 */
import { useState } from 'react';
import type { DeploymentView as DeploymentViewData, DeviceRollout, DeploymentState } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { NotAllowed, PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatDuration, formatTime, isoTime } from '../../app/format.ts';
import { can, rolesThatCan } from '../../app/permissions.ts';
import type { ViewProps } from '../../app/route.ts';
import { Link } from '../../app/router.tsx';
import { useApi, useNow } from '../../app/use-api.ts';
import { usePageVisible } from '../panels/live-board.ts';
import { DeploymentActions } from './deployment-actions.tsx';
import { DeploymentDevices } from './deployment-devices.tsx';
import { updatesApi, updatesPages } from './update-api.ts';
import { DeploymentStateBadge, formatPercentValue, Hash, splitStates } from './update-status.tsx';
import { UpdatesNav } from './updates-nav.tsx';
import { ProgressBar, ProgressLegend, WaveTable } from './wave-progress.tsx';
import './updates.css';

/** While a rollout acts (running, paused), how often the page re-reads it. */
export const LIVE_POLL_MS = 2_000;
const ENDED_POLL_MS = 30_000;
const ACTIVE: readonly DeploymentState[] = ['running', 'paused'];

function windowText(w: { days?: number[]; start: string; end: string; timeZone: string }): string {
  const names = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const days = w.days && w.days.length < 7 ? w.days.map((d) => names[d] ?? String(d)).join(', ') : 'every day';
  return `${days} ${w.start}–${w.end} (${w.timeZone})`;
}

export default function DeploymentView({ params }: ViewProps) {
  const id = params.id ?? '';
  const role = useRole();
  const now = useNow(5_000);
  const visible = usePageVisible();
  const mayManage = can(role, 'deployment.manage');
  // Whether the rollout still acts decides how often it is re-read (adjusted during render, from the last answer).
  const [active, setActive] = useState(true);
  const pollMs = visible ? (active ? LIVE_POLL_MS : ENDED_POLL_MS) : undefined;
  const live = useApi<DeploymentViewData>(updatesApi.deployment(id), pollMs ? { pollMs } : {});
  const devices = useApi<{ devices: DeviceRollout[] }>(updatesApi.devices(id), pollMs ? { pollMs } : {});
  const nowActive = live.state.data ? ACTIVE.includes(live.state.data.deployment.state) : true;
  if (nowActive !== active) setActive(nowActive);

  const current = live.state.data;
  const placeholder = current ? null : stateOf(live.state, { onRetry: live.reload, loading: 'Loading the deployment…' });
  if (placeholder) {
    return (
      <>
        <PageHeader title={`Deployment ${id}`} />
        <UpdatesNav />
        {placeholder}
      </>
    );
  }
  const { deployment: d, progress: p } = current!;
  const split = splitStates(p.states);
  const done = (v: DeploymentViewData) => { live.set(v); devices.reload(); };

  return (
    <div className="deployment-view" data-testid="deployment-view" data-deployment-id={d.id} data-state={d.state}>
      <PageHeader
        title={<>Deployment of {d.product} {d.version} <span className="muted">to {d.group}</span></>}
        subtitle={<>{d.stream} stream · <code>{d.id}</code> · created by {d.createdBy} <time dateTime={isoTime(d.createdAt)}>{formatTime(d.createdAt)}</time>{active ? ' · live: re-read every 2 s' : ''}</>}
        actions={mayManage ? <DeploymentActions deployment={d} onDone={done} /> : undefined}
      />
      <UpdatesNav />
      {!mayManage ? <NotAllowed action="pause, resume, abort or start the installs of a deployment, or defer devices" roles={rolesThatCan('deployment.manage')} /> : null}
      <StaleNotice error={live.state.status === 'error' ? live.state.error : null} />
      {d.state === 'halted' ? (
        <div className="banner bad" role="alert" data-testid="halted-reason">
          <span aria-hidden="true">◆ </span>Halted: {d.haltedReason ?? 'the failure threshold was reached'}
          <p className="banner-detail">No further device is instructed. Devices that failed have rolled back by themselves; abort this deployment, fix the release and deploy a new one.</p>
        </div>
      ) : null}
      {d.state === 'paused' ? (
        <p className="banner warn" role="status" data-testid="paused-notice">
          <span aria-hidden="true">■ </span>Paused{d.lastAction?.action === 'pause' ? ` by ${d.lastAction.by}${d.lastAction.reason ? `: ${d.lastAction.reason}` : ''}` : ''}. No device is instructed until it is resumed.
        </p>
      ) : null}

      <section className="panel" aria-labelledby="progress-title" data-testid="deployment-progress"
        data-percent={p.percentHealthy} data-healthy={p.healthy} data-failed={p.failed} data-devices={p.devices}>
        <div className="panel-heading">
          <h2 id="progress-title">Progress</h2>
          <DeploymentStateBadge state={d.state} />
        </div>
        <div className="deployment-headline">
          <div>
            <div className="big-percent" data-testid="deployment-percent" aria-live="polite">{formatPercentValue(p.percentHealthy)}</div>
            <div className="muted fine">healthy ({p.healthy} of {p.devices})</div>
          </div>
          <ProgressBar states={p.states} total={p.devices} large label="The whole group" />
        </div>
        <ProgressLegend />
        <dl className="facts" style={{ marginTop: 10 }}>
          <dt>Wave</dt><dd data-testid="deployment-wave">{d.currentWave} of {d.waveCount}{d.waveCompletedAt !== undefined && d.state === 'running' ? ' (complete, soaking)' : ''}</dd>
          <dt>Devices</dt><dd>{split.healthy} healthy, {split.inProgress} in progress, {split.failed} failed, {split.waiting} waiting</dd>
          {d.lastAction ? <><dt>Last action</dt><dd>{d.lastAction.action} by {d.lastAction.by} <time dateTime={isoTime(d.lastAction.at)}>{formatTime(d.lastAction.at)}</time>{d.lastAction.reason ? `: ${d.lastAction.reason}` : ''}</dd></> : null}
          {d.installsStartedUntil !== undefined && d.installsStartedUntil > now ? <><dt>Installs started</dt><dd>until <time dateTime={isoTime(d.installsStartedUntil)}>{formatTime(d.installsStartedUntil)}</time></dd></> : null}
          {d.endedAt !== undefined ? <><dt>Ended</dt><dd><time dateTime={isoTime(d.endedAt)}>{formatTime(d.endedAt)}</time></dd></> : null}
        </dl>
        <h3>Waves</h3>
        <WaveTable deployment={d} progress={p} />
      </section>

      <div className="split">
        <div>
          {devices.state.data ? (
            <DeploymentDevices deployment={d} devices={devices.state.data.devices} counts={p.states} now={now} mayManage={mayManage} onChanged={() => { devices.reload(); live.reload(); }} />
          ) : (
            <section className="panel" aria-label="Devices">{stateOf(devices.state, { onRetry: devices.reload, loading: 'Loading the devices…' })}</section>
          )}
        </div>
        <aside>
          <section className="panel" aria-labelledby="policy-title" data-testid="deployment-policy">
            <h2 id="policy-title">Policy</h2>
            <dl className="facts">
              <dt>Waves</dt><dd>{d.policy.waves.map((w) => `${w} %`).join(' → ')}</dd>
              <dt>Health window</dt><dd>{formatDuration(d.policy.healthWindowSeconds * 1000)} to prove the release by attestation</dd>
              <dt>Halts at</dt><dd>{formatPercentValue(d.policy.failureThreshold * 100)} of a wave failed (at least {d.policy.minFailures})</dd>
              <dt>Soak</dt><dd>{d.policy.waveSoakSeconds > 0 ? `${formatDuration(d.policy.waveSoakSeconds * 1000)} between waves` : 'none'}</dd>
              <dt>Windows</dt>
              <dd>
                {d.policy.maintenanceWindows.length === 0 ? 'any time: devices install as soon as they are instructed' : (
                  <ul className="plain-list compact">{d.policy.maintenanceWindows.map((w, i) => <li key={i}>{windowText(w)}</li>)}</ul>
                )}
                {d.policy.maintenanceWindows.length > 0 ? <div className="muted fine">{d.policy.autoApply ? 'installs start by themselves in every window' : 'an engineer starts the installs inside a window'}</div> : null}
              </dd>
            </dl>
          </section>
          <section className="panel" aria-labelledby="release-title">
            <h2 id="release-title">Release</h2>
            <dl className="facts">
              <dt>Target</dt><dd><code>{d.target.targetName}</code></dd>
              <dt>SHA-256</dt><dd><Hash value={d.target.sha256} /></dd>
              <dt>Platform</dt><dd>{d.target.manifest.platform}, Node ABI {d.target.manifest.nodeAbi}</dd>
            </dl>
            <p><Link to={updatesPages.versionReport(d.group, d.stream)} data-testid="deployment-version-report-link">Version report of {d.group} ({d.stream})</Link></p>
          </section>
        </aside>
      </div>
    </div>
  );
}
