/** The crash and error reports one guardian uploaded (GET /fleet/:deviceId/reports, newest first, at most 100 kept). */
import type { DeviceReport } from '../../app/api-types.ts';
import { StatusBadge } from '../../app/components/badges.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { useApi } from '../../app/use-api.ts';
import { formatPast, shortId } from './guardian-status.ts';

export function DeviceReports({ deviceId, dropped, now, onClose }: { deviceId: string; dropped: number; now: number; onClose(): void }) {
  const reports = useApi<{ reports: DeviceReport[] }>(`/fleet/${encodeURIComponent(deviceId)}/reports`, { reloadOn: ['fleet'] });
  const { state } = reports;
  const other = stateOf(state, {
    onRetry: reports.reload,
    isEmpty: (d) => d.reports.length === 0,
    empty: 'No crash or error reports from this guardian.',
  });
  return (
    <section className="panel" aria-labelledby="device-reports-title" data-testid="device-reports" data-device-id={deviceId}>
      <div className="panel-heading">
        <h2 id="device-reports-title">Reports from guardian <code title={deviceId}>{shortId(deviceId)}</code></h2>
        <button type="button" className="small" onClick={onClose}>Close reports</button>
      </div>
      {dropped > 0 ? (
        <p className="notice">{dropped} more report{dropped === 1 ? ' was' : 's were'} dropped by the rate limit (10 a minute) since the server started.</p>
      ) : null}
      {other ?? (
        <>
          <StaleNotice error={state.error} />
          <div className="table-scroll">
            <table>
              <thead><tr><th>Received</th><th>On the guardian</th><th>Kind</th><th>Message</th></tr></thead>
              <tbody>
                {state.data!.reports.map((r, i) => (
                  <tr key={`${r.receivedAt}-${i}`} data-testid="device-report-row">
                    <td><time dateTime={isoTime(r.receivedAt)}>{formatTime(r.receivedAt)}</time><div className="muted fine">{formatPast(r.receivedAt, now)}</div></td>
                    <td><time dateTime={isoTime(r.at)}>{formatTime(r.at)}</time></td>
                    <td><StatusBadge tone={r.kind === 'crash' ? 'bad' : 'warn'} label={r.kind} /></td>
                    <td>
                      {r.message}
                      {r.detail ? (
                        <details>
                          <summary>Detail</summary>
                          <pre className="report-detail">{r.detail}</pre>
                        </details>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
