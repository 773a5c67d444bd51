/**
 * "Right version everywhere" (GET /fleet/version-report): guardians whose last measured software
 * differs from their group's newest release. Guardians never appraised have nothing measured and
 * are not judged here; their attestation column says "never attested".
 */
import type { VersionDrift } from '../../app/api-types.ts';
import { StatusBadge } from '../../app/components/badges.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { useApi } from '../../app/use-api.ts';
import { formatPast, shortId } from './guardian-status.ts';

function Digest({ value, missing }: { value: string | undefined; missing: string }) {
  if (value === undefined) return <span className="muted">{missing}</span>;
  return <code title={value}>{value.length > 16 ? `${value.slice(0, 16)}…` : value}</code>;
}

export function VersionReport({ now }: { now: number }) {
  const report = useApi<{ devices: VersionDrift[] }>('/fleet/version-report', { reloadOn: ['fleet'] });
  const { state } = report;
  const other = stateOf(state, { onRetry: report.reload });
  return (
    <section className="panel" aria-labelledby="version-report-title" data-testid="version-report">
      <h2 id="version-report-title">Right version everywhere</h2>
      {other ?? (state.data!.devices.length === 0 ? (
        <p className="banner ok" data-testid="version-report-ok">
          <span aria-hidden="true">✓ </span>Every guardian runs its group's release.
        </p>
      ) : (
        <>
          <StaleNotice error={state.error} />
          <p className="banner warn" role="status">
            {state.data!.devices.length} guardian{state.data!.devices.length === 1 ? '' : 's'} measured software that differs from the group's newest release.
          </p>
          <div className="table-scroll">
            <table aria-label="Guardians that differ from their group's release">
              <thead>
                <tr><th>Guardian</th><th>Site / group</th><th>Measured version</th><th>Should run</th><th>Differences</th></tr>
              </thead>
              <tbody>
                {state.data!.devices.map((d) => (
                  <tr key={d.deviceId} data-testid="version-drift-row" data-device-id={d.deviceId}>
                    <td><code title={d.deviceId}>{shortId(d.deviceId)}</code></td>
                    <td>{d.site} / {d.group}</td>
                    <td>
                      <StatusBadge tone="warn" label={d.swversion || 'unknown'} />
                      <div className="muted fine">measured <time dateTime={isoTime(d.measuredAt)} title={formatTime(d.measuredAt)}>{formatPast(d.measuredAt, now)}</time></div>
                    </td>
                    <td>{d.target.swname} {d.target.swversion}</td>
                    <td>
                      <table className="nested">
                        <thead><tr><th>Component</th><th>Expected</th><th>Measured</th></tr></thead>
                        <tbody>
                          {d.differences.map((c) => (
                            <tr key={c.component}>
                              <td><code>{c.component}</code></td>
                              <td><Digest value={c.expected} missing="any per-device value of a release" /></td>
                              <td><Digest value={c.measured} missing="not measured" /></td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ))}
    </section>
  );
}
