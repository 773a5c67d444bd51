/**
 * What the work order's panels report now, beside what the procedure needs: each bound panel's
 * tower (live from the panel board), its door, the current step's breaker, and every point the
 * procedure reads, with units.
 */
import type { DmopWorkOrderDetail, PanelView, Role } from '../../app/api-types.ts';
import { SimulatorControls, simulatesPanel, type DemoSimulator } from '../panels/demo-simulator.tsx';
import { BreakerBadge, DoorBadge } from '../panels/panel-contacts.tsx';
import { SignalTower } from '../panels/signal-tower.tsx';
import { DOOR_POINT, procedurePoints, readingOf, readingText, unitKey, type Units } from './procedure-reading.ts';

export interface PanelNowProps {
  detail: DmopWorkOrderDetail;
  board: readonly PanelView[];
  units: Units;
  sim: DemoSimulator;
  /** The signed-in user's role (the simulator's controls are not for a viewer). */
  userRole: Role | null;
  onSimulated(): void;
}

export function PanelNow({ detail, board, units, sim, userRole, onSimulated }: PanelNowProps) {
  const { workOrder: wo, template } = detail;
  const step = template.steps[wo.currentStep];
  const points = procedurePoints(template);
  return (
    <section className="panel panel-now wo-area-now" aria-labelledby="panel-now-heading" data-testid="panel-now">
      <h2 id="panel-now-heading">What the panel reports now</h2>
      {template.panels.map((role) => {
        const asset = wo.bindings[role] ?? role;
        const view = board.find((p) => p.site === wo.site && p.panel === asset);
        const door = view ? view.door : (readingOf(detail, role, DOOR_POINT) as boolean | undefined) ?? null;
        const breaker = step?.kind === 'operate' && step.panel === role ? step.point : null;
        const breakerClosed = breaker ? (view?.breakers[breaker] ?? readingOf(detail, role, breaker)) : undefined;
        return (
          <div key={role} className="now-panel" data-testid="panel-now-panel" data-panel={asset}>
            <h3>{asset} <span className="muted fine">({role})</span></h3>
            <div className="now-tower">
              {view ? <SignalTower signal={view.signal} panel={asset} size="large" explain /> : <p className="muted">This panel's tower has not reported yet.</p>}
            </div>
            <p data-testid="reading-door">Door: <DoorBadge open={door} /></p>
            {breaker ? (
              <p data-testid="reading-breaker" data-point={breaker}>
                This step's breaker: {typeof breakerClosed === 'boolean' ? <BreakerBadge point={breaker} closed={breakerClosed} /> : <span className="muted">{breaker}: no reading yet</span>}
              </p>
            ) : null}
            {view && simulatesPanel(sim, view.site, view.panel, userRole) ? <SimulatorControls panel={view} onChanged={onSimulated} /> : null}
          </div>
        );
      })}
      {points.length > 0 ? (
        <table data-testid="procedure-readings">
          <caption>Points this procedure reads</caption>
          <thead>
            <tr><th scope="col">Point</th><th scope="col" className="num">Now</th><th scope="col">Used at</th></tr>
          </thead>
          <tbody>
            {points.map((p) => {
              const current = p.steps.includes(wo.currentStep);
              const value = readingOf(detail, p.role, p.point);
              return (
                <tr key={unitKey(p.role, p.point)} data-testid="reading-row" data-point={p.point} data-role={p.role} className={current ? 'selected' : undefined}>
                  <th scope="row"><span className="mono">{p.point}</span> <span className="muted fine">{wo.bindings[p.role] ?? p.role}</span></th>
                  <td className="num value" data-testid="reading-value">{readingText(p.point, value, units.get(unitKey(p.role, p.point)) ?? '')}</td>
                  <td>{p.steps.map((i) => `step ${i + 1}`).join(', ')}{current ? <strong> (now)</strong> : null}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
