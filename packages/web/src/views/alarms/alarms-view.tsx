/**
 * The alarm console (ISA-18.2 §11, §16): every alarm that needs an operator — active or
 * unacknowledged — and every one set aside on purpose (shelved, out of service), unacknowledged
 * first, then by priority, newest first. Live from the shared alarm store; filters live in the
 * address. A flood of thousands stays responsive: the list is derived once per store version and
 * only the first rows are rendered until asked for more.
 */
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import { loadAlarms, putAlarm, useAlarms } from '../../app/alarm-store.ts';
import { api, messageOf } from '../../app/api-client.ts';
import { ALARM_PRIORITIES, type Alarm, type AlarmPriority, type AlarmRule } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { PriorityBadge } from '../../app/components/badges.tsx';
import { NotAllowed, PageHeader } from '../../app/components/page.tsx';
import { EmptyState, ErrorState, LoadingState, StaleNotice } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { can, rolesThatCan } from '../../app/permissions.ts';
import { useSearchParams } from '../../app/router.tsx';
import { useApi } from '../../app/use-api.ts';
import { ACTION_SPECS, ALARM_ACTIONS, actionBody, actionPath, type AlarmAction, type ShelveChoice } from './alarm-actions.ts';
import { AlarmActionDialog, type ActionRequest } from './alarm-action-dialog.tsx';
import { ALARM_FILTERS, FILTER_LABEL, consoleList, parseFilter, parsePriority, summarise, type AlarmSummary } from './alarm-console.ts';
import { AlarmHistoryPanel } from './alarm-history-panel.tsx';
import { AlarmRow } from './alarm-row.tsx';
import { useAcknowledgements } from './use-acknowledgements.ts';

/** Rows rendered at first and added per "show more". */
const ROWS_PER_PAGE = 100;
/** Acknowledged alarms on screen (the first ones) whose acknowledger is looked up: caps the history reads. */
const ACK_LOOKUPS = 50;

const count = (n: number) => n.toLocaleString();

/** ISA-18.2 §16.5: a flood is named as such, per site, so the operator knows to triage by priority. */
function FloodBanner({ floods }: { floods: AlarmSummary['floods'] }) {
  if (floods.length === 0) return null;
  return (
    <div className="banner bad" data-testid="flood-banner" role="alert">
      <span aria-hidden="true">⚠ </span>Alarm flood: more alarms are arriving than can be handled one by one. Deal with the highest priorities first.
      <ul className="flood-sites">
        {floods.map((f) => (
          <li key={f.site} data-site={f.site}>
            {f.site}: flooding since <time dateTime={isoTime(f.since)}>{formatTime(f.since)}</time> — {count(f.recent)} new alarms in the flood window ({f.description})
            {/* Changes with every alarm: shown, but not re-announced each time. */}
            <span aria-live="off">, {count(f.active)} active at this site now</span>.
          </li>
        ))}
      </ul>
    </div>
  );
}

function SummaryCards({ summary }: { summary: AlarmSummary }) {
  const card = (id: string, value: number, label: ReactNode) => (
    <div className="card" data-testid={`alarm-summary-${id}`} key={id}>
      <div className="value">{count(value)}</div>
      <div className="label">{label}</div>
    </div>
  );
  return (
    <div className="cards" data-testid="alarm-summary" aria-label="Alarm summary" role="group">
      {ALARM_PRIORITIES.map((p) => card(p, summary.activeByPriority[p], <>active <PriorityBadge priority={p} /></>))}
      {card('unacknowledged', summary.unacknowledged, 'unacknowledged')}
      {card('shelved', summary.shelved, 'shelved')}
      {card('out-of-service', summary.outOfService, 'out of service')}
    </div>
  );
}

/**
 * The button that opened a dialog is often gone once the action is done (an acknowledged alarm
 * offers no Acknowledge): keyboard users land on the alarm's History button instead of the page top.
 */
function keepFocusNear(alarmId: number): void {
  requestAnimationFrame(() => {
    if (document.activeElement && document.activeElement !== document.body) return;
    document.querySelector<HTMLButtonElement>(`tr[data-alarm-id="${alarmId}"] button[aria-pressed]`)?.focus();
  });
}

/** One notice for everything the role may not do, instead of buttons that could only answer 403. */
function RoleNotice({ canOperate, canService }: { canOperate: boolean; canService: boolean }) {
  if (!canOperate) {
    return (
      <NotAllowed
        action="act on alarms"
        roles={`${rolesThatCan('alarm.acknowledge')} to acknowledge or shelve; ${rolesThatCan('alarm.remove-from-service')} to take out of service`}
      />
    );
  }
  if (!canService) return <NotAllowed action="take alarms out of service or return them to service" roles={rolesThatCan('alarm.remove-from-service')} />;
  return null;
}

export default function AlarmsView() {
  const snapshot = useAlarms();
  const role = useRole();
  const [params, setParams] = useSearchParams();
  const filter = parseFilter(params.get('show'));
  const place = params.get('place') ?? '';
  const priority = parsePriority(params.get('priority'));
  const selectedParam = Number(params.get('alarm'));
  const selectedId = Number.isInteger(selectedParam) && selectedParam > 0 ? selectedParam : null;

  const { byId, version } = snapshot;
  // Derived once per store version (a batch of live events), not per render.
  const list = useMemo(() => consoleList(byId.values(), { filter, place, priority }), [byId, version, filter, place, priority]);
  const summary = useMemo(() => summarise(byId.values()), [byId, version]);

  const queryKey = `${filter}\u0000${place}\u0000${priority ?? ''}`;
  const [rowWindow, setRowWindow] = useState({ queryKey, rows: ROWS_PER_PAGE });
  // Other filters start from the first rows again (adjusting state to a changed query, not an effect).
  if (rowWindow.queryKey !== queryKey) setRowWindow({ queryKey, rows: ROWS_PER_PAGE });
  const shown = useMemo(() => list.slice(0, rowWindow.rows), [list, rowWindow.rows]);

  const ackCandidates = useMemo(() => shown.filter((a) => a.acknowledged && a.active).slice(0, ACK_LOOKUPS), [shown]);
  const acks = useAcknowledgements(ackCandidates);

  const allowed = useMemo(() => {
    const caps = new Set<AlarmAction>();
    for (const action of ALARM_ACTIONS) if (can(role, ACTION_SPECS[action].capability)) caps.add(action);
    return caps as ReadonlySet<AlarmAction>;
  }, [role]);
  const canShelve = allowed.has('shelve');
  const rules = useApi<{ rules: AlarmRule[] }>(canShelve ? '/alarm-rules' : null);
  const maxShelveByRule = useMemo(
    () => new Map((rules.state.data?.rules ?? []).map((r) => [r.id, r.maxShelveMs] as const)),
    [rules.state.data],
  );

  // Stable for the memoised rows: the current selection is read from the address itself.
  const select = useCallback((alarmId: number) => {
    const current = new URLSearchParams(window.location.search).get('alarm');
    setParams({ alarm: current === String(alarmId) ? null : String(alarmId) });
  }, [setParams]);
  const closePanel = useCallback(() => setParams({ alarm: null }), [setParams]);

  const [request, setRequest] = useState<ActionRequest | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const openAction = useCallback((alarm: Alarm, action: AlarmAction) => {
    setActionError(null);
    setRequest({ alarm, action });
  }, []);
  const cancelAction = useCallback(() => {
    setRequest(null);
    setActionError(null);
  }, []);
  const { refresh: refreshAck, record: recordHistory } = acks;
  const confirmAction = useCallback(async (req: ActionRequest, comment: string, shelve: ShelveChoice) => {
    setBusy(true);
    setActionError(null);
    try {
      const answer = await api.post<{ alarm: Alarm }>(actionPath(req.alarm.id, req.action), actionBody(req.action, comment, shelve));
      putAlarm(answer.alarm);
      // Who acknowledged is only in the history: read it now, so the row names them at once.
      refreshAck(answer.alarm);
      setRequest(null);
      keepFocusNear(answer.alarm.id);
    } catch (err) {
      setActionError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }, [refreshAck]);

  const selected = selectedId !== null ? byId.get(selectedId) : undefined;
  const filtered = filter !== 'attention' || place !== '' || priority !== null;

  let body: ReactNode;
  if (snapshot.status === 'idle' || (snapshot.status === 'loading' && byId.size === 0)) {
    body = <LoadingState label="Loading alarms…" />;
  } else if (snapshot.status === 'error') {
    body = <ErrorState title="Could not load the alarms" message={snapshot.error ?? 'unknown error'} onRetry={() => void loadAlarms()} />;
  } else if (list.length === 0) {
    body = <EmptyState>No alarms need attention{filtered ? ' with these filters' : ''}.</EmptyState>;
  } else {
    body = (
      <>
        <p className="muted" data-testid="alarm-count" data-total={list.length} data-shown={shown.length} aria-live="polite">
          Showing {count(shown.length)} of {count(list.length)} alarm{list.length === 1 ? '' : 's'}: unacknowledged first, then by priority, newest first.
        </p>
        <div className="table-scroll">
          <table className="alarm-table" data-testid="alarm-table">
            <thead>
              <tr>
                <th scope="col">Priority</th>
                <th scope="col">State</th>
                <th scope="col">Site / asset</th>
                <th scope="col">Point</th>
                <th scope="col">Description</th>
                <th scope="col" className="num">Value</th>
                <th scope="col">Active since</th>
                <th scope="col">Shelved / out of service</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <AlarmRow
                  key={a.id}
                  alarm={a}
                  selected={a.id === selectedId}
                  ack={acks.byAlarm.get(a.id)}
                  allowed={allowed}
                  onSelect={select}
                  onAction={openAction}
                />
              ))}
            </tbody>
          </table>
        </div>
        {list.length > shown.length ? (
          <button type="button" data-testid="alarm-show-more" onClick={() => setRowWindow((w) => ({ ...w, rows: w.rows + ROWS_PER_PAGE }))}>
            Show {count(Math.min(ROWS_PER_PAGE, list.length - shown.length))} more ({count(list.length - shown.length)} not shown)
          </button>
        ) : null}
      </>
    );
  }

  const table = (
    <section className="panel" aria-label="Alarms">
      <StaleNotice error={snapshot.status === 'ready' ? snapshot.error : null} />
      {body}
    </section>
  );

  return (
    <div className="alarm-console">
      <PageHeader title="Alarms" subtitle="Alarms that need an operator, and those shelved or out of service. Live." />
      <FloodBanner floods={summary.floods} />
      <SummaryCards summary={summary} />
      <RoleNotice canOperate={allowed.has('acknowledge')} canService={allowed.has('remove-from-service')} />
      <div className="toolbar" role="search" aria-label="Filter alarms">
        <div className="pill-group" role="group" aria-label="Show">
          {ALARM_FILTERS.map((f) => (
            <button key={f} type="button" aria-pressed={filter === f} onClick={() => setParams({ show: f === 'attention' ? null : f })}>{FILTER_LABEL[f]}</button>
          ))}
        </div>
        <label className="inline-field">
          <span>Site or asset</span>
          <input type="search" value={place} onChange={(e) => setParams({ place: e.target.value })} placeholder="e.g. dc1/crah-3" data-testid="alarm-filter-place" />
        </label>
        <label className="inline-field">
          <span>Priority</span>
          <select value={priority ?? ''} onChange={(e) => setParams({ priority: e.target.value })} data-testid="alarm-filter-priority">
            <option value="">any</option>
            {ALARM_PRIORITIES.map((p: AlarmPriority) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        {filtered ? <button type="button" onClick={() => setParams({ show: null, place: null, priority: null })}>Clear filters</button> : null}
      </div>
      {selectedId !== null ? (
        <div className="split">
          {table}
          <AlarmHistoryPanel key={selectedId} alarmId={selectedId} alarm={selected} onClose={closePanel} onHistory={recordHistory} />
        </div>
      ) : table}
      <AlarmActionDialog
        request={request}
        maxShelveMs={request ? maxShelveByRule.get(request.alarm.ruleId) ?? null : null}
        busy={busy}
        error={actionError}
        onConfirm={(req, comment, shelve) => void confirmAction(req, comment, shelve)}
        onCancel={cancelAction}
      />
    </div>
  );
}
