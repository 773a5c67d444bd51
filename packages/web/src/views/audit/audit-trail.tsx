/**
 * The audit trail, newest first: who did what to what, page by page. The target filter is the
 * server's (GET /audit?target=); actor and action filter the page on screen. Everything that picks
 * what is shown lives in the address, so a link to a page of the trail shows that page.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { api, isAbort, messageOf, query } from '../../app/api-client.ts';
import type { AuditEvent } from '../../app/api-types.ts';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, isoTime } from '../../app/format.ts';
import { useSearchParams } from '../../app/router.tsx';
import type { ApiState } from '../../app/use-api.ts';
import { newestPage, pageAfter, pageBefore, type AuditFilter, type AuditPage, type ListAudit } from './audit-pages.ts';

const PAGE_SIZE = 100;
const DETAIL_PREVIEW = 100;

function positiveInt(text: string | null): number | null {
  const n = Number(text);
  return text !== null && Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Reads one page; a new page clears the old one, a refresh of the same page keeps it on screen meanwhile. */
function useAuditPage(target: string, actor: string, action: string, before: number | null, after: number | null): { state: ApiState<AuditPage>; reload(): void } {
  const [state, setState] = useState<ApiState<AuditPage>>({ status: 'loading', data: undefined, error: null });
  const [tick, setTick] = useState(0);
  const shownKey = useRef('');
  useEffect(() => {
    const key = JSON.stringify([target, actor, action, before, after]);
    const samePage = key === shownKey.current;
    shownKey.current = key;
    const controller = new AbortController();
    const list: ListAudit = async (q) => (await api.get<{ events: AuditEvent[] }>(`/audit${query({
      afterSeq: q.afterSeq, beforeSeq: q.beforeSeq, order: q.order, limit: q.limit, target: q.target, actor: q.actor, action: q.action,
    })}`, { signal: controller.signal })).events;
    const t: AuditFilter = {
      ...(target !== '' ? { target } : {}), ...(actor !== '' ? { actor } : {}), ...(action !== '' ? { action } : {}),
    };
    setState((s) => ({ status: 'loading', data: samePage ? s.data : undefined, error: null }));
    const read = after !== null ? pageAfter(list, after, PAGE_SIZE, t) : before !== null ? pageBefore(list, before, PAGE_SIZE, t) : newestPage(list, PAGE_SIZE, t);
    read.then((data) => setState({ status: 'ready', data, error: null }), (err: unknown) => {
      if (isAbort(err)) return;
      setState((s) => ({ status: 'error', data: s.data, error: messageOf(err) }));
    });
    return () => controller.abort();
  }, [target, actor, action, before, after, tick]);
  return { state, reload: () => setTick((n) => n + 1) };
}

function Detail({ detail }: { detail: Record<string, unknown> }) {
  const compact = JSON.stringify(detail);
  if (compact === undefined || compact === '{}') return <span className="muted">—</span>;
  if (compact.length <= DETAIL_PREVIEW) return <code className="audit-detail">{compact}</code>;
  return (
    <details className="audit-detail">
      <summary title={compact}><code>{compact.slice(0, DETAIL_PREVIEW)}…</code></summary>
      <pre>{JSON.stringify(detail, null, 2)}</pre>
    </details>
  );
}

export function AuditTrail() {
  const [params, setParams] = useSearchParams();
  const target = (params.get('target') ?? '').trim();
  const actor = (params.get('actor') ?? '').trim();
  const action = (params.get('action') ?? '').trim();
  const after = positiveInt(params.get('after'));
  const before = after === null ? positiveInt(params.get('before')) : null;
  const { state, reload } = useAuditPage(target, actor, action, before, after);

  // The filters apply on submit (each change is a request); they follow the address when that changes.
  const applied = `${target}\u0000${actor}\u0000${action}`;
  const [draft, setDraft] = useState({ from: applied, target, actor, action });
  if (draft.from !== applied) setDraft({ from: applied, target, actor, action });
  const targetId = useId();
  const actorId = useId();
  const actionId = useId();
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setParams({ target: draft.target.trim(), actor: draft.actor.trim(), action: draft.action.trim(), before: null, after: null });
  };

  const page = state.data;
  const visible = page?.events ?? [];
  const paged = before !== null || after !== null;

  const content = stateOf(state, {
    onRetry: reload,
    isEmpty: (d) => d.events.length === 0,
    empty: paged ? 'No events here: go back to the newest.' : target || actor || action ? 'No audit events match these filters.' : 'The audit log is empty.',
    loading: 'Reading the audit trail…',
  }) ?? (
    <div className="table-scroll">
      <table data-testid="audit-table">
        <caption>
          Events {page!.events.at(-1)!.seq}–{page!.events[0]!.seq}, newest first{target || actor || action ? ' (filtered)' : ''}
        </caption>
        <thead>
          <tr><th scope="col" className="num">Seq</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Detail</th></tr>
        </thead>
        <tbody>
          {visible.map((e) => (
            <tr key={e.seq} data-testid="audit-row" data-seq={e.seq}>
              <td className="num">{e.seq}</td>
              <td><time dateTime={isoTime(e.at)}>{formatTime(e.at)}</time></td>
              <td className="mono">{e.actor}</td>
              <td className="mono">{e.action}</td>
              <td className="mono">{e.target}</td>
              <td><Detail detail={e.detail} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );

  const newest = page?.events[0]?.seq;
  const oldest = page?.events.at(-1)?.seq;
  return (
    <section className="panel" aria-labelledby="audit-trail-title">
      <h2 id="audit-trail-title">Audit trail</h2>
      <div className="toolbar">
        <form className="toolbar" onSubmit={apply} role="search" aria-label="Filter the audit trail">
          <label className="inline-field" htmlFor={targetId}>
            Target
            <input id={targetId} type="search" value={draft.target} onChange={(e) => setDraft({ ...draft, target: e.target.value })} placeholder="e.g. alarm:12 or device:g-01" maxLength={300} data-testid="audit-filter-target" />
          </label>
          <label className="inline-field" htmlFor={actorId}>
            Actor
            <input id={actorId} type="search" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} placeholder="e.g. user:alice" maxLength={300} data-testid="audit-filter-actor" />
          </label>
          <label className="inline-field" htmlFor={actionId}>
            Action starts with
            <input id={actionId} type="search" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })} placeholder="e.g. alarm. or fleet.revoke" maxLength={200} data-testid="audit-filter-action" />
          </label>
          <button type="submit">Apply</button>
          {target || actor || action ? <button type="button" onClick={() => setParams({ target: null, actor: null, action: null, before: null, after: null })}>Clear filters</button> : null}
        </form>
      </div>
      <p className="muted">Target and actor match exactly; action matches from its start. The server filters the whole trail.</p>
      <StaleNotice error={state.status === 'error' && state.data ? state.error : null} />
      {content}
      <nav className="toolbar audit-paging" aria-label="Audit trail pages">
        <button type="button" disabled={!paged} onClick={() => setParams({ before: null, after: null })}>Newest</button>
        <button type="button" disabled={!page?.hasNewer || newest === undefined} onClick={() => setParams({ after: String(newest), before: null })}>Newer</button>
        <button type="button" disabled={!page?.hasOlder || oldest === undefined} onClick={() => setParams({ before: String(oldest), after: null })}>Older</button>
        <button type="button" onClick={reload} disabled={state.status === 'loading'}>{state.status === 'loading' && page ? 'Refreshing…' : 'Refresh'}</button>
      </nav>
    </section>
  );
}
