/**
 * A deployment's progress as bars: the whole group, and wave by wave — healthy, in progress,
 * failed and waiting. A bar is a picture with its text summary (role="img" with a label); the
 * same numbers stand in the table beside it, so nothing is only in the picture.
 */
import type { Deployment, DeploymentProgress, UpdateStateCounts } from '../../app/api-types.ts';
import { StatusBadge } from '../../app/components/badges.tsx';
import { formatPercentValue, splitStates, type Split } from './update-status.tsx';

function summaryOf(s: Split, total: number): string {
  return `${s.healthy} of ${total} healthy, ${s.inProgress} in progress, ${s.failed} failed, ${s.waiting} waiting`;
}

export function ProgressBar({ states, total, large = false, label }: { states: Partial<UpdateStateCounts>; total: number; large?: boolean; label: string }) {
  const s = splitStates(states);
  const pct = (n: number) => (total > 0 ? `${(n / total) * 100}%` : '0%');
  return (
    <div
      className={`progress-bar${large ? ' large' : ''}`} role="img" aria-label={`${label}: ${summaryOf(s, total)}`}
      data-testid="progress-bar" data-healthy={s.healthy} data-in-progress={s.inProgress} data-failed={s.failed} data-waiting={s.waiting} data-total={total}
    >
      <span className="seg-healthy" style={{ width: pct(s.healthy) }} />
      <span className="seg-progress" style={{ width: pct(s.inProgress) }} />
      <span className="seg-failed" style={{ width: pct(s.failed) }} />
      <span className="seg-waiting" style={{ width: pct(s.waiting) }} />
    </div>
  );
}

export function ProgressLegend() {
  return (
    <ul className="progress-legend" aria-label="Bar legend">
      <li><span className="swatch seg-healthy" aria-hidden="true" />healthy (solid)</li>
      <li><span className="swatch seg-progress" aria-hidden="true" />downloading, downloaded or installed (hatched)</li>
      <li><span className="swatch seg-failed" aria-hidden="true" />failed, rolled back or refused (cross-hatched)</li>
      <li><span className="swatch seg-waiting" aria-hidden="true" />pending or deferred (empty)</li>
    </ul>
  );
}

function waveStatus(w: DeploymentProgress['waves'][number]): { tone: 'ok' | 'warn' | 'bad' | 'idle'; label: string } {
  if (!w.started) return { tone: 'idle', label: 'not started' };
  if (w.failed > 0 && w.complete) return { tone: 'bad', label: `complete, ${w.failed} failed` };
  if (w.complete) return { tone: 'ok', label: 'complete' };
  if (w.failed > 0) return { tone: 'bad', label: `in progress, ${w.failed} failed` };
  return { tone: 'warn', label: 'in progress' };
}

export function WaveTable({ deployment, progress }: { deployment: Deployment; progress: DeploymentProgress }) {
  return (
    <div className="table-scroll">
      <table className="waves-table" aria-label="Progress wave by wave" data-testid="wave-table">
        <thead>
          <tr>
            <th scope="col">Wave</th><th scope="col">Status</th><th scope="col">Progress</th>
            <th scope="col" className="num">Devices</th><th scope="col" className="num">Healthy</th><th scope="col" className="num">In progress</th>
            <th scope="col" className="num">Failed</th><th scope="col" className="num">Waiting</th>
          </tr>
        </thead>
        <tbody>
          {progress.waves.map((w) => {
            const s = splitStates(w.states);
            const status = waveStatus(w);
            const share = deployment.policy.waves[w.wave - 1];
            return (
              <tr key={w.wave} data-testid="wave-row" data-wave={w.wave} data-started={String(w.started)} data-complete={String(w.complete)}
                className={w.wave === deployment.currentWave && deployment.state === 'running' ? 'wave-current' : undefined}>
                <th scope="row">
                  {w.wave} of {progress.waves.length}
                  {share !== undefined ? <div className="muted fine">up to {formatPercentValue(share)} of the group</div> : null}
                </th>
                <td><StatusBadge tone={status.tone} label={status.label} /></td>
                <td><ProgressBar states={w.states} total={w.devices} label={`Wave ${w.wave}`} /></td>
                <td className="num">{w.devices}</td>
                <td className="num">{s.healthy}</td>
                <td className="num">{s.inProgress}</td>
                <td className="num">{s.failed}</td>
                <td className="num">{s.waiting}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
