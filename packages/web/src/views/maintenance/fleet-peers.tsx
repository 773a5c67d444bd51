/**
 * Fleet peers: the assets of one equipment model (profile) across every site, compared point by
 * point with their peers' median, most unusual first. The server's z is robust (median and MAD,
 * Iglewicz & Hoaglin), where |z| above 3.5 is the usual outlier cut. `?profile=` keeps the choice.
 */
import { useId, useMemo } from 'react';
import { query } from '../../app/api-client.ts';
import type { Asset, PeerOutlier } from '../../app/api-types.ts';
import { StatusBadge } from '../../app/components/badges.tsx';
import { EmptyState, StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatValue } from '../../app/format.ts';
import { useSearchParams } from '../../app/router.tsx';
import { useApi, type UseApiResult } from '../../app/use-api.ts';
import { AssetLink } from './asset-link.tsx';
import { formatZ } from './deviation.ts';

/** Iglewicz & Hoaglin's cut for the modified z-score. */
const OUTLIER_Z = 3.5;

function profileCounts(assets: readonly Asset[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const a of assets) if (a.profile) counts.set(a.profile, (counts.get(a.profile) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function PeerTable({ profile }: { profile: string }) {
  const peers = useApi<{ assets: PeerOutlier[] }>(`/peers${query({ profile })}`, { pollMs: 60_000 });
  const { state } = peers;
  const other = stateOf(state, {
    onRetry: peers.reload,
    isEmpty: (d) => d.assets.length === 0,
    empty: `Nothing to compare yet: a point is compared once at least 3 assets of ${profile} report it (over their last hour).`,
  });
  if (other) return <>{other}</>;
  return (
    <>
      <StaleNotice error={state.error} />
      <div className="table-scroll">
        <table data-testid="peer-table" aria-label={`Assets of ${profile}, most unusual first`}>
          <thead>
            <tr><th scope="col">Site</th><th scope="col">Asset</th><th scope="col" className="num">Score (largest |z|)</th><th scope="col">Points: value vs peers' median (z)</th></tr>
          </thead>
          <tbody>
            {state.data!.assets.map((a) => (
              <tr key={`${a.site}\u0000${a.asset}`} data-testid="peer-row" data-site={a.site} data-asset={a.asset}>
                <td>{a.site}</td>
                <td><AssetLink site={a.site} asset={a.asset} /></td>
                <td className="num">
                  {a.score.toFixed(1)}
                  {a.score > OUTLIER_Z ? <div><StatusBadge tone="warn" label="unusual" /></div> : null}
                </td>
                <td>
                  <ul className="plain-list compact">
                    {a.points.map((p) => (
                      <li key={p.point}>
                        <code>{p.point}</code>: {formatValue(p.value)} vs {formatValue(p.median)}{' '}
                        <span className={Math.abs(p.z) > OUTLIER_Z ? 'peer-z-outlier' : 'muted'}>({formatZ(p.z)}, {p.peers} peers)</span>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function FleetPeers({ assets }: { assets: UseApiResult<{ assets: Asset[] }> }) {
  const [params, setParams] = useSearchParams();
  const selectId = useId();
  const profiles = useMemo(() => profileCounts(assets.state.data?.assets ?? []), [assets.state.data]);
  const asked = params.get('profile');
  const profile = asked && profiles.some(([p]) => p === asked) ? asked
    : (profiles.find(([, n]) => n >= 2) ?? profiles[0])?.[0] ?? null;
  const count = profiles.find(([p]) => p === profile)?.[1] ?? 0;

  const other = stateOf(assets.state, {
    onRetry: assets.reload,
    isEmpty: () => profiles.length === 0,
    empty: 'No assets with an equipment profile yet.',
  });

  return (
    <section className="panel" aria-labelledby="peers-title" data-testid="fleet-peers">
      <h2 id="peers-title">Fleet peers by equipment model</h2>
      {other ?? (
        <>
          <div className="toolbar">
            <label htmlFor={selectId} className="inline-field">
              <span>Equipment profile</span>
              <select id={selectId} value={profile ?? ''} onChange={(e) => setParams({ profile: e.target.value })} data-testid="peer-profile">
                {profiles.map(([p, n]) => <option key={p} value={p}>{p} ({n} asset{n === 1 ? '' : 's'})</option>)}
              </select>
            </label>
          </div>
          {profile === null ? null : count < 2
            ? <EmptyState>Only {count} asset of {profile} exists: peers need at least 2 assets of the same profile to compare.</EmptyState>
            : <PeerTable key={profile} profile={profile} />}
        </>
      )}
    </section>
  );
}
