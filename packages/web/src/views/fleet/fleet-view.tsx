/**
 * Fleet: every claimed guardian with its claim state, last attestation, software, connection,
 * certificate expiry and reports; a summary; the "right version everywhere" report; revocation
 * for the roles that may. The claim list is kept live from `fleet` events (they carry the list as
 * GET /fleet gives it); the connection data is re-read on them and every 30 s.
 */
import { useMemo, useState } from 'react';
import type { FleetDevice, RegistryDevice } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { StatusBadge } from '../../app/components/badges.tsx';
import { NotAllowed, PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { useLiveEvent } from '../../app/live.ts';
import { can, rolesThatCan } from '../../app/permissions.ts';
import { useSearchParams } from '../../app/router.tsx';
import { useApi, useNow } from '../../app/use-api.ts';
import { DeviceReports } from './device-reports.tsx';
import {
  attestationStatus, certificateStatus, CLAIM_TONE, connectionStatus, formatPast, joinGuardians, shortId, summarise, type Guardian,
} from './guardian-status.ts';
import { RevokeDialog, type RevokedClaim } from './revoke-dialog.tsx';
import { VersionReport } from './version-report.tsx';

interface FleetList {
  devices: FleetDevice[];
}

function isFleetList(data: unknown): data is FleetList {
  return typeof data === 'object' && data !== null && Array.isArray((data as FleetList).devices);
}

function SummaryCards({ guardians, now }: { guardians: readonly Guardian[]; now: number }) {
  const s = summarise(guardians, now);
  const cards: { key: string; value: number; label: string; tone?: 'warn' | 'bad' }[] = [
    { key: 'total', value: s.total, label: 'guardians' },
    { key: 'online', value: s.online, label: `online (of ${s.total})`, ...(s.online < s.total ? { tone: 'warn' as const } : {}) },
    { key: 'attestation', value: s.attestationPassing, label: 'attestation passing', ...(s.attestationPassing < s.total - s.revoked ? { tone: 'warn' as const } : {}) },
    { key: 'quarantined-revoked', value: s.quarantined + s.revoked, label: `quarantined (${s.quarantined}) or revoked (${s.revoked})`, ...(s.quarantined > 0 ? { tone: 'warn' as const } : {}) },
    {
      key: 'certificates', value: s.certificatesExpiring,
      label: `certificates expiring within 2 h${s.certificatesExpired > 0 ? ` (${s.certificatesExpired} expired)` : ''}`,
      ...(s.certificatesExpired > 0 ? { tone: 'bad' as const } : s.certificatesExpiring > 0 ? { tone: 'warn' as const } : {}),
    },
  ];
  return (
    <div className="cards" data-testid="fleet-summary">
      {cards.map((c) => (
        <div key={c.key} className={`card${c.tone ? ` card-${c.tone}` : ''}`} data-testid={`fleet-summary-${c.key}`}>
          <div className="value">{c.value}</div>
          <div className="label">{c.label}</div>
        </div>
      ))}
    </div>
  );
}

function GuardianRow({ g, now, mayRevoke, reportsOpen, onReports, onRevoke }: {
  g: Guardian;
  now: number;
  mayRevoke: boolean;
  reportsOpen: boolean;
  onReports(): void;
  onRevoke(): void;
}) {
  const attestation = attestationStatus(g);
  const connection = connectionStatus(g);
  const certificate = certificateStatus(g.certificateNotAfter, now);
  const reportedVersion = g.registry?.version;
  return (
    <tr data-testid="fleet-row" data-device-id={g.deviceId} data-state={g.state} className={reportsOpen ? 'selected' : undefined}>
      <td><code title={g.deviceId}>{shortId(g.deviceId)}</code></td>
      <td>{g.site}</td>
      <td>{g.group}</td>
      <td data-testid="claim-state">
        <StatusBadge tone={CLAIM_TONE[g.state]} label={g.state} />
        {g.stateReason ? <div className="muted fine">{g.stateReason}</div> : null}
        <div className="muted fine">since <time dateTime={isoTime(g.stateChangedAt)} title={formatTime(g.stateChangedAt)}>{formatPast(g.stateChangedAt, now)}</time></div>
      </td>
      <td data-testid="attestation">
        <StatusBadge tone={attestation.tone} label={attestation.label} />
        {g.lastAttestation?.reason ? <div className="fine"><code>{g.lastAttestation.reason}</code></div> : null}
        {g.lastAttestation ? (
          <div className="muted fine"><time dateTime={isoTime(g.lastAttestation.at)} title={formatTime(g.lastAttestation.at)}>{formatPast(g.lastAttestation.at, now)}</time></div>
        ) : null}
      </td>
      <td>
        {g.swversion ?? reportedVersion ?? <span className="muted">unknown</span>}
        {g.swversion && reportedVersion && reportedVersion !== g.swversion ? <div className="muted fine">reports {reportedVersion}</div> : null}
      </td>
      <td data-testid="connection">
        <StatusBadge tone={connection.tone} label={connection.label} />
        {g.registry ? (
          <div className="muted fine">seen <time dateTime={isoTime(g.registry.lastSeen)} title={formatTime(g.registry.lastSeen)}>{formatPast(g.registry.lastSeen, now)}</time></div>
        ) : null}
      </td>
      <td data-testid="certificate" data-tone={certificate.tone}>
        {g.certificateNotAfter !== undefined ? (
          <>
            <time dateTime={isoTime(g.certificateNotAfter)}>{formatTime(g.certificateNotAfter)}</time>
            <div><StatusBadge tone={certificate.tone} label={certificate.label} /></div>
          </>
        ) : <StatusBadge tone={certificate.tone} label={certificate.label} />}
      </td>
      <td className="num">
        {g.reportCount}
        {g.reportsDropped > 0 ? <div className="muted fine" title="dropped by the rate limit since the server started">+{g.reportsDropped} dropped</div> : null}
      </td>
      <td className="row-actions">
        <button type="button" className="small" onClick={onReports} aria-pressed={reportsOpen} aria-label={`Reports of guardian ${shortId(g.deviceId)}`}>
          Reports
        </button>
        {g.state !== 'revoked' ? (
          <button
            type="button" className="small danger-outline" onClick={onRevoke} disabled={!mayRevoke}
            aria-label={`Revoke guardian ${shortId(g.deviceId)}`}
            {...(!mayRevoke ? { title: `Needs ${rolesThatCan('fleet.revoke')}` } : {})}
          >
            Revoke
          </button>
        ) : null}
      </td>
    </tr>
  );
}

export default function FleetView() {
  const role = useRole();
  const now = useNow(10_000);
  const mayRevoke = can(role, 'fleet.revoke');
  const fleet = useApi<FleetList>('/fleet');
  const registry = useApi<{ devices: RegistryDevice[] }>('/devices', { reloadOn: ['fleet'], pollMs: 30_000 });
  const [params, setParams] = useSearchParams();
  const reportsOf = params.get('reports');
  const [revoking, setRevoking] = useState<Guardian | null>(null);

  // The event carries the whole list as GET /fleet gives it: no request needed.
  useLiveEvent<unknown>('fleet', (data) => { if (isFleetList(data)) fleet.set(data); });

  const guardians = useMemo(
    () => joinGuardians(fleet.state.data?.devices ?? [], registry.state.data?.devices ?? []),
    [fleet.state.data, registry.state.data],
  );

  const revoked = (claim: RevokedClaim) => {
    setRevoking(null);
    const current = fleet.state.data;
    if (current) {
      // Shown at once; the `fleet` event (or the re-read) brings the server's full view.
      fleet.set({
        devices: current.devices.map((d) => {
          if (d.deviceId !== claim.deviceId) return d;
          const { certificateNotAfter: _revokedCertificate, ...rest } = d;
          return { ...rest, state: claim.state, stateChangedAt: claim.changedAt, ...(claim.reason ? { stateReason: claim.reason } : {}) };
        }),
      });
    }
    fleet.reload();
    registry.reload();
  };

  const other = stateOf(fleet.state, {
    onRetry: fleet.reload,
    isEmpty: (d) => d.devices.length === 0,
    empty: (
      <p data-testid="fleet-empty">
        No guardians yet — claim one with <code>shellguard device claim &lt;deviceId&gt; --site &lt;site&gt; --group &lt;group&gt;</code>{' '}
        (the guardian prints its device id with <code>shellguard guardian id --data-dir &lt;dir&gt;</code>).
      </p>
    ),
  });
  const reportsGuardian = reportsOf ? guardians.find((g) => g.deviceId === reportsOf) : undefined;

  return (
    <>
      <PageHeader title="Fleet" subtitle="Guardians: claim state, attestation, software, connection and certificates." />
      {other ?? (
        <>
          <StaleNotice error={fleet.state.error} />
          {registry.state.error ? <StaleNotice error={`connection status: ${registry.state.error}`} /> : null}
          <SummaryCards guardians={guardians} now={now} />
          <section className="panel" aria-labelledby="guardians-title">
            <h2 id="guardians-title">Guardians</h2>
            {!mayRevoke ? <NotAllowed action="revoke guardians" roles={rolesThatCan('fleet.revoke')} /> : null}
            <div className="table-scroll">
              <table data-testid="fleet-table">
                <thead>
                  <tr>
                    <th scope="col">Device</th><th scope="col">Site</th><th scope="col">Group</th><th scope="col">Claim</th>
                    <th scope="col">Attestation</th><th scope="col">Software</th><th scope="col">Connection</th>
                    <th scope="col">Certificate expires</th><th scope="col" className="num">Reports</th><th scope="col"><span className="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {guardians.map((g) => (
                    <GuardianRow
                      key={g.deviceId} g={g} now={now} mayRevoke={mayRevoke} reportsOpen={reportsOf === g.deviceId}
                      onReports={() => setParams({ reports: reportsOf === g.deviceId ? null : g.deviceId })}
                      onRevoke={() => setRevoking(g)}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          {reportsOf ? (
            <DeviceReports deviceId={reportsOf} dropped={reportsGuardian?.reportsDropped ?? 0} now={now} onClose={() => setParams({ reports: null })} />
          ) : null}
          <VersionReport now={now} />
        </>
      )}
      <RevokeDialog guardian={revoking} onRevoked={revoked} onCancel={() => setRevoking(null)} />
    </>
  );
}
