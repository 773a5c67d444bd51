/**
 * Overview: every site → area → asset with its status (alarms and health, in shape and word as
 * well as colour), the site's active alarms and guardians online, and the ingest rate. Alarms are
 * live from the shared store; health is re-read every 15 s, guardians on `fleet` events.
 */
import { useMemo, useState } from 'react';
import { useAlarms } from '../../app/alarm-store.ts';
import type { Alarm, AlarmPriority, Asset, AssetHealth, HealthEvent, RegistryDevice, Site } from '../../app/api-types.ts';
import { HealthBadge, StatusBadge, type Tone } from '../../app/components/badges.tsx';
import { PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatAgo } from '../../app/format.ts';
import { useLiveEvent } from '../../app/live.ts';
import { Link } from '../../app/router.tsx';
import { useApi, useNow } from '../../app/use-api.ts';

interface AssetStatus {
  tone: Tone;
  label: string;
  activeAlarms: number;
  worst: AlarmPriority | null;
}

const RANK: Record<AlarmPriority, number> = { critical: 0, high: 1, medium: 2, low: 3 };
const key = (site: string, asset: string) => `${site}\u0000${asset}`;

function alarmCounts(alarms: Iterable<Alarm>): Map<string, { active: number; unack: number; worst: AlarmPriority | null }> {
  const out = new Map<string, { active: number; unack: number; worst: AlarmPriority | null }>();
  for (const a of alarms) {
    if (!a.active && a.acknowledged) continue;
    const k = key(a.site, a.asset);
    const c = out.get(k) ?? { active: 0, unack: 0, worst: null };
    if (a.active) c.active++;
    if (!a.acknowledged) c.unack++;
    if (a.active && (c.worst === null || RANK[a.priority] < RANK[c.worst])) c.worst = a.priority;
    out.set(k, c);
  }
  return out;
}

function statusOf(health: AssetHealth | undefined, alarms: { active: number; worst: AlarmPriority | null } | undefined): AssetStatus {
  const active = alarms?.active ?? 0;
  const worst = alarms?.worst ?? null;
  if (worst === 'critical' || worst === 'high') return { tone: 'bad', label: `${worst} alarm`, activeAlarms: active, worst };
  if (active > 0) return { tone: 'warn', label: `${active} alarm${active === 1 ? '' : 's'}`, activeAlarms: active, worst };
  if (health && health.health < 50) return { tone: 'bad', label: 'acting unusually', activeAlarms: 0, worst };
  if (health && health.health < 80) return { tone: 'warn', label: 'watch', activeAlarms: 0, worst };
  if (!health) return { tone: 'idle', label: 'learning', activeAlarms: 0, worst };
  return { tone: 'ok', label: 'normal', activeAlarms: 0, worst };
}

export default function OverviewView() {
  const now = useNow(10_000);
  const sites = useApi<{ sites: Site[] }>('/sites', { reloadOn: ['fleet'], pollMs: 60_000 });
  const assets = useApi<{ assets: Asset[] }>('/assets', { reloadOn: ['fleet'], pollMs: 60_000 });
  const health = useApi<{ assets: AssetHealth[] }>('/asset-health', { pollMs: 15_000, reloadOn: ['recommendations'] });
  const devices = useApi<{ devices: RegistryDevice[] }>('/devices', { reloadOn: ['fleet'], pollMs: 30_000 });
  const alarms = useAlarms();
  const [rate, setRate] = useState<HealthEvent | null>(null);
  useLiveEvent<HealthEvent>('health', setRate);

  const counts = useMemo(() => alarmCounts(alarms.byId.values()), [alarms.version, alarms.byId]);
  const healthByAsset = useMemo(() => new Map((health.state.data?.assets ?? []).map((h) => [key(h.site, h.asset), h])), [health.state.data]);

  const gate = stateOf(assets.state, {
    onRetry: assets.reload,
    isEmpty: (d) => d.assets.length === 0,
    empty: <>No equipment has reported yet. Once a guardian is claimed and attested, its assets appear here on their first report.</>,
    loading: 'Loading sites and assets…',
  });

  const allAlarms = [...alarms.byId.values()];
  const activeAlarms = allAlarms.filter((a) => a.active).length;
  const unack = allAlarms.filter((a) => !a.acknowledged).length;
  const devs = devices.state.data?.devices ?? [];
  const online = devs.filter((d) => d.online).length;

  return (
    <>
      <PageHeader title="Overview" subtitle="Every site, area and asset: status, alarms, health and guardians." />
      <div className="cards" data-testid="overview-cards">
        <div className="card"><div className="value">{sites.state.data?.sites.length ?? '—'}</div><div className="label">sites</div></div>
        <div className="card"><div className="value">{assets.state.data?.assets.length ?? '—'}</div><div className="label">assets</div></div>
        <div className="card"><div className="value" data-testid="overview-active-alarms">{alarms.status === 'ready' ? activeAlarms : '—'}</div><div className="label">active alarms ({unack} unacknowledged)</div></div>
        <div className="card"><div className="value" data-testid="overview-guardians-online">{devices.state.data ? `${online} / ${devs.length}` : '—'}</div><div className="label">guardians online</div></div>
        <div className="card"><div className="value">{rate?.pointsPerSecond !== undefined ? Math.round(rate.pointsPerSecond) : '—'}</div><div className="label">samples per second stored</div></div>
      </div>
      <StaleNotice error={assets.state.error ?? health.state.error ?? alarms.error} />
      {gate ?? (
        <div>
          {(sites.state.data?.sites ?? [{ id: '', firstSeen: 0, areaCount: 0, assetCount: 0 }])
            .map((site) => {
              const siteAssets = (assets.state.data?.assets ?? []).filter((a) => site.id === '' || a.site === site.id);
              const areas = new Map<string, Asset[]>();
              for (const a of siteAssets) areas.set(a.area || '(no area)', [...(areas.get(a.area || '(no area)') ?? []), a]);
              const siteDevices = devs.filter((d) => d.site === site.id);
              const siteAlarms = allAlarms.filter((a) => a.site === site.id && a.active).length;
              return (
                <section className="panel site-panel" key={site.id} data-testid="overview-site" data-site={site.id} aria-labelledby={`site-${site.id}`}>
                  <h2 id={`site-${site.id}`}>{site.id || 'Sites'}</h2>
                  <p className="muted">
                    {siteAssets.length} assets · {siteAlarms} active alarms · guardians {siteDevices.filter((d) => d.online).length} of {siteDevices.length} online
                    {siteDevices.length > 0 ? ` · last heard ${formatAgo(Math.max(...siteDevices.map((d) => d.lastSeen)), now)}` : ''}
                  </p>
                  <ul className="areas">
                    {[...areas.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([area, list]) => (
                      <li key={area}>
                        <strong>{area}</strong>
                        <ul>
                          {list.sort((a, b) => a.id.localeCompare(b.id)).map((a) => {
                            const h = healthByAsset.get(key(a.site, a.id));
                            const st = statusOf(h, counts.get(key(a.site, a.id)));
                            return (
                              <li key={a.id} data-testid="overview-asset" data-asset={a.id} data-tone={st.tone}>
                                <Link className="asset-link" to={`/assets/${encodeURIComponent(a.site)}/${encodeURIComponent(a.id)}`}>
                                  <span>{a.id}</span><span className="muted">{a.name !== a.id ? a.name : a.type}</span>
                                </Link>{' '}
                                <StatusBadge tone={st.tone} label={st.label} />{' '}
                                {h ? <HealthBadge health={h.health} /> : null}
                              </li>
                            );
                          })}
                        </ul>
                      </li>
                    ))}
                  </ul>
                </section>
              );
            })}
        </div>
      )}
    </>
  );
}
