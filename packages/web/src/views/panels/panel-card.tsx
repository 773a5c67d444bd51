/**
 * One panel on the board: its tower, door and breakers, the work order covering it (or that
 * nothing does, so opening it is an intrusion), its open security alert with Silence, and in the
 * demo the simulator's controls.
 */
import type { PanelView, Role } from '../../app/api-types.ts';
import { formatClock, formatTime, isoTime } from '../../app/format.ts';
import { Link } from '../../app/router.tsx';
import { andonMeaning } from './andon.ts';
import { SimulatorControls } from './demo-simulator.tsx';
import { mayDmop, rolesThatMay } from './dmop-roles.ts';
import { BreakerList, DoorBadge } from './panel-contacts.tsx';
import { SignalTower } from './signal-tower.tsx';
import { workOrderPage } from '../work-orders/dmop-api.ts';

const ALERT_WORDS: Record<string, string> = {
  'door-opened-uncovered': 'Door opened with no released work order',
  'breaker-operated-uncovered': 'Operated with no released work order',
};

export function alertText(kind: string, point: string): string {
  const words = ALERT_WORDS[kind] ?? kind;
  return kind === 'breaker-operated-uncovered' ? `${point}: ${words.toLowerCase()}` : words;
}

export interface PanelCardProps {
  view: PanelView;
  role: Role | null;
  simulated: boolean;
  onSilence(view: PanelView): void;
  onChanged(): void;
}

export function PanelCard({ view, role, simulated, onSilence, onChanged }: PanelCardProps) {
  const tone = andonMeaning(view.signal.state).tone;
  const wo = view.workOrder;
  const alert = view.alert;
  return (
    <li className={`panel-card tone-border-${tone}`} data-testid="panel-card" data-site={view.site} data-panel={view.panel} data-state={view.signal.state}>
      <h3><span>{view.panel}</span><span className="muted fine">{view.site}</span></h3>
      <SignalTower signal={view.signal} panel={view.panel} />
      <dl className="facts">
        <dt>Door</dt>
        <dd><DoorBadge open={view.door} /></dd>
        <dt>Breakers</dt>
        <dd><BreakerList breakers={view.breakers} summarise /></dd>
        <dt>Work</dt>
        <dd data-testid="panel-work-order" data-work-order-id={wo?.id ?? ''}>
          {wo ? (
            <>
              <Link to={workOrderPage(wo.id)}>Work order #{wo.id}: {wo.title}</Link>
              {view.signal.step ? <div>Step {view.signal.step.index} of {view.signal.step.count}: {view.signal.step.title}</div> : null}
              <div className="muted fine">{wo.status}; {wo.assignees.join(', ')}</div>
            </>
          ) : view.signal.workOrderId !== undefined ? (
            <Link to={workOrderPage(view.signal.workOrderId)}>Work order #{view.signal.workOrderId}</Link>
          ) : (
            <span className="muted">No released work order: opening this panel raises an intrusion alert.</span>
          )}
        </dd>
      </dl>
      {alert ? (
        <div className="panel-alert" role="alert" data-testid="panel-alert" data-alert-id={alert.id} data-kind={alert.kind}>
          <p>
            <strong><span aria-hidden="true">◆ </span>Security alert: {alertText(alert.kind, alert.point)}</strong>
            {' '}at <time dateTime={isoTime(alert.at)} title={formatTime(alert.at)}>{formatClock(alert.at)}</time>
            {alert.incidentId !== null ? <> — <Link to={`/incidents/${alert.incidentId}`} data-testid="panel-alert-incident">incident #{alert.incidentId}</Link> opened</> : null}.
          </p>
          {mayDmop(role, 'panel-alert.silence') ? (
            <button type="button" className="danger" data-testid="silence-alert" disabled={alert.id <= 0} onClick={() => onSilence(view)}
              title={alert.id <= 0 ? 'The server is still recording the alert' : undefined}>
              Silence alert
            </button>
          ) : <p className="not-allowed" data-testid="not-allowed">Silencing needs {rolesThatMay('panel-alert.silence')}.</p>}
        </div>
      ) : null}
      {simulated ? <SimulatorControls panel={view} onChanged={onChanged} compact /> : null}
    </li>
  );
}
