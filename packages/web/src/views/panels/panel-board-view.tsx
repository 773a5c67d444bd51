/**
 * The panel board: every panel's signal tower, live, in a grid per site — door and breakers, the
 * work order covering it, and open security alerts (a panel opened or operated with nothing
 * released to it), which a manager silences with a reason. A manager also stops all work at a
 * site, or resumes it. In the demo, each panel has the simulator's controls.
 */
import { useMemo } from 'react';
import type { PanelView } from '../../app/api-types.ts';
import { useAuth } from '../../app/auth.tsx';
import { NotAllowed, PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { useSearchParams } from '../../app/router.tsx';
import { simulatesPanel, useDemoSimulator } from './demo-simulator.tsx';
import { mayDmop, rolesThatMay } from './dmop-roles.ts';
import { usePanelBoard } from './live-board.ts';
import { alertText, PanelCard } from './panel-card.tsx';
import { useReasonAction } from './reason-action.ts';
import { ReasonDialog } from './reason-dialog.tsx';
import './dmop.css';

const seg = encodeURIComponent;

export default function PanelBoardView() {
  const { user } = useAuth();
  const role = user?.role ?? null;
  const board = usePanelBoard();
  const sim = useDemoSimulator();
  const [params, setParams] = useSearchParams();
  const siteFilter = params.get('site') ?? '';
  const action = useReasonAction(board.reload);

  const data = board.state.data;
  const sites = useMemo(() => {
    const all = new Set<string>();
    for (const p of data?.panels ?? []) all.add(p.site);
    for (const s of data?.stops ?? []) all.add(s.site);
    return [...all].sort();
  }, [data]);
  const shownSites = siteFilter ? sites.filter((s) => s === siteFilter) : sites;

  const silence = (view: PanelView) => {
    if (!view.alert) return;
    action.ask({
      title: `Silence the alert on ${view.panel}`,
      explanation: `${alertText(view.alert.kind, view.alert.point)} at ${formatTime(view.alert.at)}. Silencing stops the tower and the panel's klaxon; the alert and its incident stay on record.`,
      confirmLabel: 'Silence alert', reasonLabel: 'Why it is silenced', path: `/panel-alerts/${view.alert.id}/silence`, danger: true,
    });
  };

  const placeholder = stateOf(board.state, {
    onRetry: board.reload, loading: 'Loading the panels…', isEmpty: (b) => b.panels.length === 0 && b.stops.length === 0,
    empty: 'No panels have reported yet. Panels appear here once their guardian sends their door and breaker states.',
  });
  const alertCount = (data?.panels ?? []).filter((p) => p.alert).length;

  return (
    <div className="panel-board-view">
      <PageHeader
        title="Panel board"
        subtitle="Every panel's signal tower, door and breakers, the work covering it and security alerts. Live."
        actions={sites.length > 1 ? (
          <label className="inline-field">
            <span>Site</span>
            <select value={siteFilter} onChange={(e) => setParams({ site: e.target.value })} data-testid="panel-filter-site">
              <option value="">all sites</option>
              {sites.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
        ) : undefined}
      />
      <StaleNotice error={board.state.status === 'error' && data ? board.state.error : null} />
      {alertCount > 0 ? (
        <p className="banner bad" data-testid="panel-alert-count" data-count={alertCount} role="status">
          <span aria-hidden="true">◆ </span>{alertCount} panel{alertCount === 1 ? '' : 's'} with an open security alert.
        </p>
      ) : null}
      {!mayDmop(role, 'site.stop') ? <NotAllowed action="stop work at a site or silence panel alerts" roles={rolesThatMay('site.stop')} /> : null}
      {placeholder ?? shownSites.map((site) => {
        const stop = data!.stops.find((s) => s.site === site);
        const panels = data!.panels.filter((p) => p.site === site);
        return (
          <section key={site} className="panel" aria-labelledby={`site-${site}`} data-testid="panel-site" data-site={site}>
            <div className="panel-heading">
              <h2 id={`site-${site}`}>{site}</h2>
              {stop && mayDmop(role, 'site.resume') ? (
                <button type="button" data-testid="resume-site" onClick={() => action.ask({
                  title: `Resume work at ${site}`, explanation: 'Work orders continue where they were; their deadlines start again.',
                  confirmLabel: 'Resume site', reasonLabel: 'Why work may resume', path: `/sites/${seg(site)}/resume`,
                })}>Resume site</button>
              ) : null}
              {!stop && mayDmop(role, 'site.stop') ? (
                <button type="button" className="danger" data-testid="stop-site" onClick={() => action.ask({
                  title: `Stop all work at ${site}`, explanation: 'Every released work order at the site pauses and every panel\'s tower shows stop until the site is resumed.',
                  confirmLabel: 'Stop site', reasonLabel: 'Why work stops', path: `/sites/${seg(site)}/stop`, danger: true,
                })}>Stop site</button>
              ) : null}
            </div>
            {stop ? (
              <div className="banner bad site-stop-banner" role="alert" data-testid="site-stop-banner" data-site={site}>
                <span aria-hidden="true">■ </span>Work at {site} is stopped by {stop.by} since <time dateTime={isoTime(stop.at)}>{formatTime(stop.at)}</time>.
                <p className="banner-detail">Reason: {stop.reason}</p>
              </div>
            ) : null}
            {panels.length === 0 ? <p className="muted">No panels reported at this site.</p> : (
              <ul className="panel-board" aria-label={`Panels at ${site}`}>
                {panels.map((p) => (
                  <PanelCard key={`${p.site}/${p.panel}`} view={p} role={role} simulated={simulatesPanel(sim, p.site, p.panel, role)} onSilence={silence} onChanged={board.reload} />
                ))}
              </ul>
            )}
          </section>
        );
      })}
      <ReasonDialog action={action} />
    </div>
  );
}
