/**
 * A new deployment (POST /deployments): a signed release, the group it goes to, and the rollout
 * policy — cumulative waves, the health window in which each device must prove the release by
 * attestation, the failure threshold that halts it, a soak between waves, and maintenance
 * windows (installs only inside one; an engineer starts them unless a platform release applies
 * itself). The server checks everything again and its message is shown as it says it.
 */
import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { api, messageOf } from '../../app/api-client.ts';
import type { DeploymentView, MaintenanceWindow, RolloutPolicy, UpdateRepositoryDetail, UpdateRepositorySummary, UpdateTarget } from '../../app/api-types.ts';
import { PageHeader } from '../../app/components/page.tsx';
import { ErrorState, LoadingState } from '../../app/components/states.tsx';
import { navigate, useSearchParams } from '../../app/router.tsx';
import { updatesApi, updatesPages } from './update-api.ts';
import { formatBytes } from './update-status.tsx';
import { UpdatesNav } from './updates-nav.tsx';
import { useGroups } from './use-groups.ts';
import './updates.css';

const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** "1, 10, 50, 100" → [1, 10, 50, 100], or what is wrong with it. */
export function parseWaves(text: string): number[] | string {
  const parts = text.split(/[\s,;]+/).filter((s) => s !== '');
  if (parts.length === 0) return 'Give the waves as cumulative percentages ending in 100, e.g. 1, 10, 50, 100.';
  if (parts.length > 10) return 'At most 10 waves.';
  const waves = parts.map(Number);
  if (waves.some((w) => !Number.isFinite(w) || w <= 0 || w > 100)) return 'Each wave is a percentage above 0 and at most 100.';
  if (waves.some((w, i) => i > 0 && w <= waves[i - 1]!)) return 'Waves are cumulative: each larger than the one before, e.g. 1, 10, 50, 100.';
  if (waves.at(-1) !== 100) return 'The last wave must be 100 (the whole group).';
  return waves;
}

interface Release {
  key: string;
  product: string;
  stream: 'application' | 'platform';
  target: UpdateTarget;
}

const releaseKey = (product: string, stream: string, version: string) => `${product}|${stream}|${version}`;

/** Every signed release of every repository, newest first within each. */
function useReleases(): { releases: Release[]; error: string | null; loading: boolean; retry(): void } {
  const [state, setState] = useState<{ releases: Release[]; error: string | null; loading: boolean }>({ releases: [], error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    (async () => {
      const { repositories } = await api.get<{ repositories: UpdateRepositorySummary[] }>(updatesApi.repositories(), { signal: controller.signal });
      const details = await Promise.all(repositories.map((r) => api.get<{ repository: UpdateRepositoryDetail }>(updatesApi.repository(r.product, r.stream), { signal: controller.signal })));
      const releases: Release[] = [];
      for (const { repository: r } of details) {
        if (r.stream !== 'application' && r.stream !== 'platform') continue;
        for (const t of [...r.targets].reverse()) releases.push({ key: releaseKey(r.product, r.stream, t.custom.version), product: r.product, stream: r.stream, target: t });
      }
      setState({ releases, error: null, loading: false });
    })().catch((err: unknown) => {
      if (controller.signal.aborted) return;
      setState({ releases: [], error: messageOf(err), loading: false });
    });
    return () => controller.abort();
  }, [tick]);
  return { ...state, retry: () => setTick((t) => t + 1) };
}

interface WindowDraft {
  days: boolean[];
  start: string;
  end: string;
  timeZone: string;
}

const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const newWindow = (): WindowDraft => ({ days: [false, true, true, true, true, true, false], start: '02:00', end: '05:00', timeZone: localZone() });

function toWindow(w: WindowDraft): MaintenanceWindow | string {
  if (!/^\d{2}:\d{2}$/.test(w.start) || !/^\d{2}:\d{2}$/.test(w.end)) return 'Each maintenance window needs a start and an end time (HH:MM).';
  if (w.start === w.end) return 'A maintenance window must not start and end at the same time.';
  if (w.timeZone.trim() === '') return 'Each maintenance window needs a time zone ("UTC" or e.g. Europe/Berlin).';
  const days = w.days.flatMap((on, i) => (on ? [i] : []));
  if (days.length === 0) return 'Tick at least one day for each maintenance window.';
  return { ...(days.length < 7 ? { days } : {}), start: w.start, end: w.end, timeZone: w.timeZone.trim() };
}

function WindowFields({ index, value, onChange, onRemove }: { index: number; value: WindowDraft; onChange(w: WindowDraft): void; onRemove(): void }) {
  const id = useId();
  return (
    <fieldset className="window-row" data-testid="maintenance-window">
      <legend>Maintenance window {index + 1}</legend>
      <div className="window-days" role="group" aria-label={`Days of window ${index + 1}`}>
        {DAY_NAMES.map((name, d) => (
          <label key={name} className="inline-field">
            <input type="checkbox" checked={value.days[d] ?? false} onChange={(e) => onChange({ ...value, days: value.days.map((x, i) => (i === d ? e.target.checked : x)) })} />
            <span>{name.slice(0, 3)}</span>
          </label>
        ))}
      </div>
      <div className="window-times">
        <label htmlFor={`${id}-start`} className="field"><span>Starts</span>
          <input id={`${id}-start`} type="time" value={value.start} onChange={(e) => onChange({ ...value, start: e.target.value })} required />
        </label>
        <label htmlFor={`${id}-end`} className="field"><span>Ends <span className="hint">(before the start: runs past midnight)</span></span>
          <input id={`${id}-end`} type="time" value={value.end} onChange={(e) => onChange({ ...value, end: e.target.value })} required />
        </label>
        <label htmlFor={`${id}-tz`} className="field"><span>Time zone</span>
          <input id={`${id}-tz`} type="text" value={value.timeZone} maxLength={64} onChange={(e) => onChange({ ...value, timeZone: e.target.value })} required />
        </label>
        <button type="button" className="small danger-outline" onClick={onRemove} aria-label={`Remove maintenance window ${index + 1}`}>Remove</button>
      </div>
    </fieldset>
  );
}

export default function NewDeploymentView() {
  const [params] = useSearchParams();
  const releases = useReleases();
  const groups = useGroups();
  const wanted = params.get('product') && params.get('stream') && params.get('version')
    ? releaseKey(params.get('product')!, params.get('stream')!, params.get('version')!) : '';
  const [release, setRelease] = useState(wanted);
  const [group, setGroup] = useState(params.get('group') ?? '');
  const [waves, setWaves] = useState('1, 10, 50, 100');
  const [healthWindow, setHealthWindow] = useState('600');
  const [threshold, setThreshold] = useState('10');
  const [minFailures, setMinFailures] = useState('1');
  const [soak, setSoak] = useState('0');
  const [windows, setWindows] = useState<WindowDraft[]>([]);
  const [autoApply, setAutoApply] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { release: useId(), group: useId(), waves: useId(), health: useId(), threshold: useId(), minFailures: useId(), soak: useId(), autoApply: useId() };

  // Defaults once the lists arrive (adjusting state to data, not an effect).
  if (release === '' && releases.releases[0]) setRelease(releases.releases[0].key);
  if (group === '' && groups.names[0]) setGroup(groups.names[0]);
  const chosen = useMemo(() => releases.releases.find((r) => r.key === release), [releases.releases, release]);
  const platform = chosen?.stream === 'platform';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen) return setError('Choose a signed release.');
    if (!group) return setError('Choose the group to deploy to.');
    const w = parseWaves(waves);
    if (typeof w === 'string') return setError(w);
    const health = Number(healthWindow);
    if (!Number.isInteger(health) || health < 30 || health > 86_400) return setError('The health window is a whole number of seconds from 30 to 86400.');
    const t = Number(threshold);
    if (!Number.isFinite(t) || t < 0 || t > 100) return setError('The failure threshold is a percentage from 0 to 100.');
    const mf = Number(minFailures);
    if (!Number.isInteger(mf) || mf < 1) return setError('The minimum number of failures is a whole number, at least 1.');
    const s = Number(soak);
    if (!Number.isInteger(s) || s < 0 || s > 2_592_000) return setError('The soak is a whole number of seconds from 0 to 2592000 (30 days).');
    const maintenanceWindows: MaintenanceWindow[] = [];
    for (const draft of windows) {
      const mw = toWindow(draft);
      if (typeof mw === 'string') return setError(mw);
      maintenanceWindows.push(mw);
    }
    const policy: Partial<RolloutPolicy> = {
      waves: w, healthWindowSeconds: health, failureThreshold: t / 100, minFailures: mf, waveSoakSeconds: s, maintenanceWindows,
      ...(platform ? { autoApply } : {}),
    };
    setBusy(true);
    setError(null);
    try {
      const view = await api.post<DeploymentView>(updatesApi.deployments(), {
        product: chosen.product, stream: chosen.stream, version: chosen.target.custom.version, group, policy,
      });
      navigate(updatesPages.deployment(view.deployment.id));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
    return undefined;
  };

  return (
    <>
      <PageHeader title="New deployment" subtitle="Roll a signed release out to a group of guardians, wave by wave. The first wave is instructed at once." />
      <UpdatesNav />
      {releases.loading ? <LoadingState label="Loading the signed releases…" /> : releases.error ? <ErrorState message={releases.error} onRetry={releases.retry} /> : (
        <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby="new-deployment-title" data-testid="new-deployment-form" noValidate>
          <h2 id="new-deployment-title" className="sr-only">Deployment</h2>
          <div className="form-grid">
            <label htmlFor={ids.release} className="field">
              <span>Release</span>
              <select id={ids.release} value={release} onChange={(e) => setRelease(e.target.value)} data-testid="new-deployment-release" required>
                {releases.releases.length === 0 ? <option value="">no signed release yet</option> : null}
                {releases.releases.map((r) => (
                  <option key={r.key} value={r.key}>{r.product} {r.target.custom.version} ({r.stream}, {r.target.custom.platform}, {formatBytes(r.target.length)})</option>
                ))}
              </select>
            </label>
            <label htmlFor={ids.group} className="field">
              <span>Group</span>
              <select id={ids.group} value={group} onChange={(e) => setGroup(e.target.value)} data-testid="new-deployment-group" required>
                {groups.names.length === 0 ? <option value="">{groups.loading ? 'loading groups…' : 'no group has guardians yet'}</option> : null}
                {groups.names.map((g) => <option key={g} value={g}>{g} ({groups.claimed.get(g) ?? 0} claimed)</option>)}
              </select>
            </label>
            <label htmlFor={ids.waves} className="field">
              <span>Waves <span className="hint">(cumulative % of the group)</span></span>
              <input id={ids.waves} type="text" inputMode="decimal" value={waves} onChange={(e) => setWaves(e.target.value)} data-testid="new-deployment-waves" />
            </label>
            <label htmlFor={ids.health} className="field">
              <span>Health window <span className="hint">(seconds to prove the release)</span></span>
              <input id={ids.health} type="number" min={30} max={86_400} step={1} value={healthWindow} onChange={(e) => setHealthWindow(e.target.value)} data-testid="new-deployment-health-window" />
            </label>
            <label htmlFor={ids.threshold} className="field">
              <span>Failure threshold <span className="hint">(% of a wave that halts it)</span></span>
              <input id={ids.threshold} type="number" min={0} max={100} step="any" value={threshold} onChange={(e) => setThreshold(e.target.value)} data-testid="new-deployment-threshold" />
            </label>
            <label htmlFor={ids.minFailures} className="field">
              <span>Halt after at least <span className="hint">(failed devices)</span></span>
              <input id={ids.minFailures} type="number" min={1} step={1} value={minFailures} onChange={(e) => setMinFailures(e.target.value)} />
            </label>
            <label htmlFor={ids.soak} className="field">
              <span>Soak between waves <span className="hint">(seconds)</span></span>
              <input id={ids.soak} type="number" min={0} step={1} value={soak} onChange={(e) => setSoak(e.target.value)} />
            </label>
          </div>
          <h3>Maintenance windows</h3>
          <p className="muted fine">
            {windows.length === 0 ? 'None: devices install as soon as they are instructed.' : 'Devices download at once but install only inside a window, once an engineer starts the installs (or by themselves, for a platform release that applies itself).'}
          </p>
          {windows.map((w, i) => (
            <WindowFields key={i} index={i} value={w} onChange={(next) => setWindows((all) => all.map((x, j) => (j === i ? next : x)))} onRemove={() => setWindows((all) => all.filter((_, j) => j !== i))} />
          ))}
          <p><button type="button" onClick={() => setWindows((all) => [...all, newWindow()])} disabled={windows.length >= 14} data-testid="add-maintenance-window">Add a maintenance window</button></p>
          <label htmlFor={ids.autoApply} className="inline-field">
            <input id={ids.autoApply} type="checkbox" checked={platform && autoApply} disabled={!platform} onChange={(e) => setAutoApply(e.target.checked)} />
            <span>Install by itself in every window {platform ? '' : '(platform releases only)'}</span>
          </label>
          {error ? <p className="form-error" role="alert" data-testid="new-deployment-error">{error}</p> : null}
          <div className="form-actions">
            <button type="button" onClick={() => navigate(updatesPages.deployments)}>Cancel</button>
            <button type="submit" className="primary" disabled={busy || !chosen || !group} data-testid="new-deployment-submit">{busy ? 'Deploying…' : 'Deploy'}</button>
          </div>
        </form>
      )}
    </>
  );
}
