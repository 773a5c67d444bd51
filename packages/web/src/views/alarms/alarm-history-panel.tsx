/**
 * The selected alarm's history (GET /alarms/:id/history): every activation, clear and operator
 * action with who took it and why, newest first. Re-read whenever the alarm changes, since each
 * change is a new history event.
 */
import { useEffect, useRef, useState } from 'react';
import type { Alarm, AlarmEvent } from '../../app/api-types.ts';
import { AlarmStateBadge } from '../../app/components/badges.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { useApi } from '../../app/use-api.ts';

const PAGE = 200;

const KIND_LABEL: Record<string, string> = {
  activate: 'Activated',
  clear: 'Cleared',
  acknowledge: 'Acknowledged',
  shelve: 'Shelved',
  unshelve: 'Unshelved',
  suppress: 'Suppressed (maintenance)',
  unsuppress: 'Suppression ended',
  'remove-from-service': 'Removed from service',
  'return-to-service': 'Returned to service',
  retire: 'Retired',
};

/** Mount it with `key={alarmId}`: one panel instance per alarm. */
export interface AlarmHistoryPanelProps {
  alarmId: number;
  /** The alarm as the store has it now; undefined once it is gone (retired). */
  alarm: Alarm | undefined;
  onClose(): void;
  onHistory(alarmId: number, asOf: number, events: readonly AlarmEvent[]): void;
}

export function AlarmHistoryPanel({ alarmId, alarm, onClose, onHistory }: AlarmHistoryPanelProps) {
  const { state, reload } = useApi<{ events: AlarmEvent[] }>(`/alarms/${alarmId}/history`);
  const [shown, setShown] = useState(PAGE);
  const changedAt = alarm?.changedAt ?? null;

  // The first read comes with the path; later changes of the alarm read it again.
  const readFor = useRef(changedAt);
  useEffect(() => {
    if (readFor.current === changedAt) return;
    readFor.current = changedAt;
    reload();
  }, [changedAt, reload]);

  const data = state.status === 'ready' ? state.data : undefined;
  useEffect(() => {
    if (data && changedAt !== null) onHistory(alarmId, changedAt, data.events);
    // Reported once per read (not per change of changedAt: a change triggers a new read, which reports in turn).
  }, [data, alarmId, onHistory]);

  const events = state.data?.events ?? [];
  const newestFirst = [...events].reverse();
  const title = alarm
    ? alarm.kind === 'flood' ? `Alarm flood at ${alarm.site}` : `${alarm.site}/${alarm.asset} · ${alarm.point}`
    : `Alarm ${alarmId}`;

  return (
    <section className="panel alarm-history" aria-labelledby="alarm-history-title" data-testid="alarm-history">
      <div className="page-header">
        <div>
          <h2 id="alarm-history-title">History: {title}</h2>
          {alarm ? <p className="subtitle">{alarm.description}</p> : <p className="subtitle">This alarm is no longer in the list (its rule no longer applies).</p>}
        </div>
        <button type="button" className="small" onClick={onClose}>Close</button>
      </div>
      <StaleNotice error={state.status === 'error' && state.data ? state.error : null} />
      {stateOf(state, {
        onRetry: reload,
        isEmpty: (d) => d.events.length === 0,
        empty: 'Nothing has happened to this alarm yet.',
        loading: 'Reading the history…',
      }) ?? (
        <>
          <div className="table-scroll">
            <table data-testid="alarm-history-table">
              <caption>{events.length} event{events.length === 1 ? '' : 's'}, newest first</caption>
              <thead>
                <tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Comment</th><th scope="col">State after</th></tr>
              </thead>
              <tbody>
                {newestFirst.slice(0, shown).map((e) => (
                  <tr key={e.seq} data-testid="alarm-history-event" data-kind={e.kind}>
                    <td><time dateTime={isoTime(e.at)}>{formatTime(e.at)}</time></td>
                    <td>{KIND_LABEL[e.kind] ?? e.kind}</td>
                    <td className="mono" data-testid="alarm-history-actor">{e.actor}</td>
                    <td>{e.comment || <span className="muted">—</span>}</td>
                    <td><AlarmStateBadge state={e.state} />{e.annunciated ? null : <span className="muted"> (not shown to operators)</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {newestFirst.length > shown ? (
            <button type="button" onClick={() => setShown((n) => n + PAGE)}>Show {Math.min(PAGE, newestFirst.length - shown)} older events</button>
          ) : null}
        </>
      )}
    </section>
  );
}
