/**
 * Every device of a deployment: its wave, update state and the reason the device or the server
 * gave, the version it says it runs, when it was instructed, installed and must prove health by,
 * and its history. Filter by state (kept in the address). An engineer holds a device back
 * ("defer") until a time, with a reason, while it has not been told to install.
 */
import { useId, useState } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import { UPDATE_STATES, type Deployment, type DeviceRollout, type UpdateState, type UpdateStateCounts } from '../../app/api-types.ts';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { useSearchParams } from '../../app/router.tsx';
import { toLocalInput, fromLocalInput } from '../work-orders/create-work-order-dialog.tsx';
import { shortId, formatPast } from '../fleet/guardian-status.ts';
import { updatesApi } from './update-api.ts';
import { UPDATE_STATE_LABEL, UpdateStateBadge } from './update-status.tsx';

const DEFERRABLE: readonly UpdateState[] = ['pending', 'downloading', 'downloaded', 'deferred'];

export function mayDefer(deployment: Deployment, d: DeviceRollout): boolean {
  return (deployment.state === 'running' || deployment.state === 'paused') && DEFERRABLE.includes(d.state) && d.installNow !== true;
}

function When({ label, at, now }: { label: string; at: number | undefined; now: number }) {
  if (at === undefined) return null;
  return <div className="fine">{label} <time dateTime={isoTime(at)} title={formatTime(at)}>{at <= now ? formatPast(at, now) : formatTime(at)}</time></div>;
}

function DeferDialog({ deployment, device, onDone, onCancel }: { deployment: Deployment; device: DeviceRollout | null; onDone(): void; onCancel(): void }) {
  const [until, setUntil] = useState(() => toLocalInput(Date.now() + 86_400_000));
  const [opened, setOpened] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const untilId = useId();
  if ((device?.deviceId ?? null) !== opened) {
    setOpened(device?.deviceId ?? null);
    if (device) { setUntil(toLocalInput(Date.now() + 86_400_000)); setError(null); }
  }
  const confirm = async (reason: string) => {
    if (!device) return;
    const ms = fromLocalInput(until);
    if (!Number.isFinite(ms) || ms <= Date.now()) { setError('Give a time in the future (at most 90 days ahead).'); return; }
    if (reason.length < 3) { setError('Give a reason of at least 3 characters: it is kept in the audit log.'); return; }
    setBusy(true);
    setError(null);
    try {
      await api.post(updatesApi.defer(deployment.id, device.deviceId), { until: ms, reason });
      onDone();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <ActionDialog
      open={device !== null}
      title={device ? `Defer device ${shortId(device.deviceId)}` : 'Defer device'}
      confirmLabel="Defer device"
      comment={{ label: 'Why it is held back (kept in the audit log)', required: true }}
      fields={(
        <label htmlFor={untilId} className="field">
          <span>Hold it back until</span>
          <input id={untilId} type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} data-testid="defer-until" />
        </label>
      )}
      busy={busy}
      error={error}
      onConfirm={(reason) => void confirm(reason)}
      onCancel={onCancel}
    >
      <p>The device is not instructed for {deployment.version} until then; it is instructed at that time if the deployment is still running.</p>
    </ActionDialog>
  );
}

export function DeploymentDevices({ deployment, devices, counts, now, mayManage, onChanged }: {
  deployment: Deployment;
  devices: readonly DeviceRollout[];
  counts: UpdateStateCounts;
  now: number;
  mayManage: boolean;
  onChanged(): void;
}) {
  const [params, setParams] = useSearchParams();
  const filterParam = params.get('state');
  const filter = filterParam && (UPDATE_STATES as readonly string[]).includes(filterParam) ? (filterParam as UpdateState) : '';
  const [deferring, setDeferring] = useState<DeviceRollout | null>(null);
  const shown = filter ? devices.filter((d) => d.state === filter) : devices;
  const filterId = useId();
  return (
    <section className="panel" aria-labelledby="devices-title" data-testid="deployment-devices">
      <div className="panel-heading">
        <h2 id="devices-title">Devices</h2>
        <label htmlFor={filterId} className="inline-field">
          <span>State</span>
          <select id={filterId} value={filter} onChange={(e) => setParams({ state: e.target.value })} data-testid="device-filter-state">
            <option value="">all ({devices.length})</option>
            {UPDATE_STATES.map((s) => <option key={s} value={s}>{UPDATE_STATE_LABEL[s]} ({counts[s] ?? 0})</option>)}
          </select>
        </label>
      </div>
      <p className="muted fine" role="status" data-testid="device-count" data-shown={shown.length} data-total={devices.length}>
        Showing {shown.length} of {devices.length} device{devices.length === 1 ? '' : 's'}{filter ? ` (${UPDATE_STATE_LABEL[filter]})` : ''}.
      </p>
      {shown.length === 0 ? <p className="muted" data-testid="devices-none">No device is {filter ? UPDATE_STATE_LABEL[filter] : 'in this deployment'}.</p> : (
        <div className="table-scroll">
          <table aria-label="Devices of this deployment" data-testid="device-table">
            <thead>
              <tr>
                <th scope="col">Device</th><th scope="col" className="num">Wave</th><th scope="col">State</th><th scope="col">Reason</th>
                <th scope="col">Runs</th><th scope="col">Timeline</th><th scope="col">History</th>
                {mayManage ? <th scope="col"><span className="sr-only">Actions</span></th> : null}
              </tr>
            </thead>
            <tbody>
              {shown.map((d) => (
                <tr key={d.deviceId} data-testid="device-row" data-device-id={d.deviceId} data-state={d.state}>
                  <td><code title={d.deviceId}>{shortId(d.deviceId)}</code></td>
                  <td className="num">{d.wave}</td>
                  <td data-testid="device-state"><UpdateStateBadge state={d.state} /></td>
                  <td data-testid="device-reason">{d.reason ?? <span className="muted">—</span>}</td>
                  <td data-testid="device-running">{d.running ?? <span className="muted">unknown</span>}</td>
                  <td>
                    <When label="instructed" at={d.instructedAt} now={now} />
                    {d.installNow === false && d.instructedAt !== undefined ? <div className="muted fine">download only: waits for the installs to start</div> : null}
                    <When label="installed" at={d.installedAt} now={now} />
                    {d.state === 'installed' ? <When label="healthy by" at={d.healthDeadline} now={now} /> : null}
                    <When label="deferred until" at={d.deferredUntil} now={now} />
                  </td>
                  <td>
                    {d.history.length === 0 ? <span className="muted">—</span> : (
                      <details className="history" data-testid="device-history">
                        <summary>{d.history.length} change{d.history.length === 1 ? '' : 's'}</summary>
                        <ol className="device-history">
                          {d.history.map((h, i) => (
                            <li key={i} data-testid="device-history-event" data-state={h.state}>
                              <time dateTime={isoTime(h.at)} title={formatTime(h.at)}>{formatTime(h.at)}</time>: {UPDATE_STATE_LABEL[h.state] ?? h.state}
                              {h.reason ? <> — {h.reason}</> : null}
                            </li>
                          ))}
                        </ol>
                      </details>
                    )}
                  </td>
                  {mayManage ? (
                    <td className="row-actions">
                      {mayDefer(deployment, d) ? (
                        <button type="button" className="small" data-testid="device-defer" aria-label={`Defer device ${shortId(d.deviceId)}`} onClick={() => setDeferring(d)}>Defer…</button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {mayManage ? <DeferDialog deployment={deployment} device={deferring} onDone={() => { setDeferring(null); onChanged(); }} onCancel={() => setDeferring(null)} /> : null}
    </section>
  );
}
