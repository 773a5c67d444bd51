/**
 * One alarm in the console table. Memoised: a live update re-renders only the rows whose alarm
 * changed (the store replaces an alarm object when it changes and keeps the others).
 */
import { memo, type MouseEvent } from 'react';
import type { Alarm } from '../../app/api-types.ts';
import { AlarmStateBadge, PriorityBadge } from '../../app/components/badges.tsx';
import { formatClock, formatTime, formatValue, isoTime } from '../../app/format.ts';
import { Link } from '../../app/router.tsx';
import { ACTION_SPECS, ALARM_ACTIONS, type AlarmAction } from './alarm-actions.ts';
import type { AckReading } from './use-acknowledgements.ts';

export interface AlarmRowProps {
  alarm: Alarm;
  selected: boolean;
  ack: AckReading | undefined;
  /** Actions the signed-in role may take at all. */
  allowed: ReadonlySet<AlarmAction>;
  onSelect(alarmId: number): void;
  onAction(alarm: Alarm, action: AlarmAction): void;
}

function Time({ ms }: { ms: number | null }) {
  return ms === null ? <>—</> : <time dateTime={isoTime(ms)}>{formatTime(ms)}</time>;
}

function WhereCell({ alarm }: { alarm: Alarm }) {
  if (alarm.kind === 'flood') return <>{alarm.site} <span className="muted">(whole site)</span></>;
  return (
    <>
      {alarm.site} / <Link to={`/assets/${encodeURIComponent(alarm.site)}/${encodeURIComponent(alarm.asset)}`}>{alarm.asset}</Link>
    </>
  );
}

/** Shelved, out of service or suppressed: by whom, until when and why. */
function SetAsideCell({ alarm }: { alarm: Alarm }) {
  const parts = [];
  if (alarm.shelved) {
    const s = alarm.shelved;
    parts.push(
      <div key="shelved" data-testid="alarm-shelved">
        Shelved ({s.kind}) by {s.by} until <time dateTime={isoTime(s.until)}>{formatTime(s.until)}</time>
        {s.comment ? <>: <q>{s.comment}</q></> : null}
      </div>,
    );
  }
  if (alarm.outOfService) {
    const o = alarm.outOfService;
    parts.push(
      <div key="oos" data-testid="alarm-out-of-service">
        Out of service since <time dateTime={isoTime(o.at)}>{formatTime(o.at)}</time> by {o.by}
        {o.comment ? <>: <q>{o.comment}</q></> : null}
      </div>,
    );
  }
  if (alarm.suppressed) parts.push(<div key="suppressed">Suppressed: the asset is in maintenance</div>);
  return parts.length > 0 ? <>{parts}</> : <span className="muted">—</span>;
}

function AlarmRowComponent({ alarm, selected, ack, allowed, onSelect, onAction }: AlarmRowProps) {
  const actions = ALARM_ACTIONS.filter((action) => allowed.has(action) && ACTION_SPECS[action].applies(alarm));
  const where = alarm.kind === 'flood' ? alarm.site : `${alarm.site}/${alarm.asset} ${alarm.point}`;
  const ackEvent = alarm.acknowledged ? ack?.ack ?? null : null;
  // A click anywhere on the row selects it, except on its own links and buttons.
  const selectFromRow = (event: MouseEvent<HTMLTableRowElement>) => {
    if ((event.target as HTMLElement).closest('a, button, input, select, textarea, details')) return;
    onSelect(alarm.id);
  };
  return (
    <tr data-testid="alarm-row" data-alarm-id={alarm.id} data-state={alarm.state} className={selected ? 'alarm-row selected' : 'alarm-row'} onClick={selectFromRow}>
      <td><PriorityBadge priority={alarm.priority} /></td>
      <td>
        <AlarmStateBadge state={alarm.state} />
        {ackEvent ? (
          <div className="alarm-ack-by">
            acknowledged by <span data-testid="alarm-ack-by">{ackEvent.actor}</span> at <time dateTime={isoTime(ackEvent.at)} title={formatTime(ackEvent.at)}>{formatClock(ackEvent.at)}</time>
          </div>
        ) : null}
      </td>
      <td><WhereCell alarm={alarm} /></td>
      <td>{alarm.kind === 'flood' ? <span className="muted">alarm flood</span> : <span className="mono">{alarm.point}</span>}</td>
      <td>{alarm.description}{alarm.level ? <span className="muted"> ({alarm.level})</span> : null}</td>
      <td className="num">{formatValue(alarm.value)}</td>
      <td><Time ms={alarm.activeSince} /></td>
      <td><SetAsideCell alarm={alarm} /></td>
      <td>
        <div className="alarm-row-actions">
          {actions.map((action) => (
            <button key={action} type="button" className={`small${action === 'acknowledge' ? ' primary' : ''}`} onClick={() => onAction(alarm, action)} aria-label={`${ACTION_SPECS[action].label}: ${where}`}>
              {ACTION_SPECS[action].label}
            </button>
          ))}
          <button type="button" className="small" aria-pressed={selected} onClick={() => onSelect(alarm.id)} aria-label={`History: ${where}`}>History</button>
        </div>
      </td>
    </tr>
  );
}

export const AlarmRow = memo(AlarmRowComponent);
