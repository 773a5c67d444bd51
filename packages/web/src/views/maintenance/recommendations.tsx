/**
 * Maintenance recommendations, newest first, each with the evidence that raised it: which point,
 * since when, how far from its learned normal. The newest open one is expanded with its chart
 * unless the address says otherwise (`?rec=<id>`, or `rec=none`); `?status=` filters. The list is
 * kept live from `recommendations` events, which carry it whole.
 */
import { useState } from 'react';
import { api, messageOf, query } from '../../app/api-client.ts';
import type { Recommendation, WorkOrder } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { StatusBadge } from '../../app/components/badges.tsx';
import { ActionDialog } from '../../app/components/dialog.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatTime, formatValue, isoTime } from '../../app/format.ts';
import { useLiveEvent } from '../../app/live.ts';
import { can, rolesThatCan } from '../../app/permissions.ts';
import { useSearchParams } from '../../app/router.tsx';
import { useApi } from '../../app/use-api.ts';
import { AssetLink } from './asset-link.tsx';
import { formatPast, formatZ, leadingMoves, normalRange } from './deviation.ts';
import { RecommendationEvidence } from './recommendation-evidence.tsx';

type StatusFilter = Recommendation['status'] | 'all';
const FILTERS: readonly { value: StatusFilter; label: string }[] = [
  { value: 'all', label: 'All' },
  { value: 'open', label: 'Open' },
  { value: 'work-order', label: 'Work order made' },
];

interface RecommendationList {
  recommendations: Recommendation[];
}

function isRecommendationList(data: unknown): data is RecommendationList {
  return typeof data === 'object' && data !== null && Array.isArray((data as RecommendationList).recommendations);
}

function filterOf(value: string | null): StatusFilter {
  return value === 'open' || value === 'work-order' ? value : 'all';
}

/** Which points of an asset moved together, each against its learned normal. */
function MovedPoints({ r }: { r: Recommendation }) {
  const all = r.moves ?? [];
  const shown = leadingMoves(all);
  return (
    <div className="table-scroll short">
      <table data-testid="recommendation-moves">
        <caption>
          Points that moved together, since <time dateTime={isoTime(r.since)}>{formatTime(r.since)}</time>
          {shown.length < all.length ? ` (the ${shown.length} largest of ${all.length})` : ''}
        </caption>
        <thead>
          <tr><th>Point</th><th className="num">Now</th><th className="num">Distance</th><th className="num">Normal (mean ± 3σ)</th><th className="num">Share</th></tr>
        </thead>
        <tbody>
          {shown.map((m) => {
            const range = normalRange(m);
            return (
              <tr key={m.point} data-testid="recommendation-move" data-point={m.point}>
                <td><code>{m.point}</code></td>
                <td className="num">{formatValue(m.value)}</td>
                <td className="num" data-testid="move-z"><strong>{formatZ(m.z)}</strong></td>
                <td className="num" data-testid="move-normal">{formatValue(range.low)} – {formatValue(range.high)} <span className="muted">({formatValue(m.normalMean)} ± {formatValue(m.normalStd)})</span></td>
                <td className="num">{Math.round(m.share * 100)} %</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function RecommendationRow({ r, expanded, now, mayCreate, onToggle, onCreate }: {
  r: Recommendation;
  expanded: boolean;
  now: number;
  mayCreate: boolean;
  onToggle(): void;
  onCreate(): void;
}) {
  const evidenceId = `recommendation-${r.id}-evidence`;
  return (
    <div className={`recommendation${expanded ? ' expanded' : ''}`} data-testid="recommendation-row" data-recommendation-id={r.id} data-status={r.status} data-method={r.method}>
      <div className="recommendation-head">
        <div>
          <strong><AssetLink site={r.site} asset={r.asset} withSite /></strong>{' '}
          {r.method === 'asset' ? <span>asset as a whole: its points together</span> : <code>{r.point}</code>}
        </div>
        {r.status === 'open'
          ? <StatusBadge tone="warn" label="open" />
          : <span data-testid="recommendation-work-order"><StatusBadge tone="ok" label={r.workOrderId !== null ? `work order #${r.workOrderId}` : 'work order made'} /></span>}
      </div>
      {r.method === 'asset' ? (
        <>
          <p className="recommendation-summary">
            Unusual as a whole since <time dateTime={isoTime(r.since)}>{formatTime(r.since)}</time> ({formatPast(r.since, now)}):
            its points together left the normal state learned for them, though each may still look normal alone;
            score {r.score.toFixed(2)} (0.5 is the limit). Most moved: <code>{r.point}</code>, <strong>{formatZ(r.zScore)}</strong>.
          </p>
          <MovedPoints r={r} />
        </>
      ) : (
        <p className="recommendation-summary">
          Unusual since <time dateTime={isoTime(r.since)}>{formatTime(r.since)}</time> ({formatPast(r.since, now)}):
          recent mean {formatValue(r.recentMean)} against a baseline of {formatValue(r.baselineMean)} ± {formatValue(r.baselineStd)},{' '}
          <strong>{formatZ(r.zScore)}</strong> from normal; anomaly score {r.score.toFixed(2)}.
        </p>
      )}
      <div className="toolbar">
        <button type="button" className="small" aria-expanded={expanded} aria-controls={evidenceId} onClick={onToggle}>
          {expanded ? 'Hide evidence' : 'Show evidence'}
        </button>
        {r.status === 'open' ? (
          <button
            type="button" className="small primary" onClick={onCreate} disabled={!mayCreate}
            {...(!mayCreate ? { title: `Needs ${rolesThatCan('work-order.create')}` } : {})}
          >
            Create work order
          </button>
        ) : null}
      </div>
      <div id={evidenceId}>{expanded ? <RecommendationEvidence recommendation={r} /> : null}</div>
    </div>
  );
}

export function Recommendations({ now, onWorkOrderCreated }: { now: number; onWorkOrderCreated(wo: WorkOrder): void }) {
  const role = useRole();
  const mayCreate = can(role, 'work-order.create');
  const [params, setParams] = useSearchParams();
  const filter = filterOf(params.get('status'));
  const list = useApi<RecommendationList>(`/recommendations${query({ status: filter === 'all' ? undefined : filter })}`);
  const [creating, setCreating] = useState<Recommendation | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ workOrder: WorkOrder; recommendation: Recommendation } | null>(null);

  // Events carry every recommendation (newest first): keep the ones this filter shows.
  useLiveEvent<unknown>('recommendations', (data) => {
    if (!isRecommendationList(data)) return;
    list.set({ recommendations: filter === 'all' ? data.recommendations : data.recommendations.filter((r) => r.status === filter) });
  });

  const recommendations = list.state.data?.recommendations ?? [];
  const chosen = params.get('rec');
  const expandedId = chosen === 'none' ? null
    : chosen !== null && recommendations.some((r) => String(r.id) === chosen) ? Number(chosen)
      : recommendations.find((r) => r.status === 'open')?.id ?? null;

  const createWorkOrder = async (title: string) => {
    if (!creating) return;
    setBusy(true);
    setError(null);
    try {
      const { workOrder } = await api.post<{ workOrder: WorkOrder }>(`/recommendations/${creating.id}/work-order`, title ? { title } : {});
      const current = list.state.data;
      if (current) {
        const updated = current.recommendations.map((r) => (r.id === creating.id ? { ...r, status: 'work-order' as const, workOrderId: workOrder.id } : r));
        list.set({ recommendations: filter === 'open' ? updated.filter((r) => r.status === 'open') : updated });
      }
      setCreated({ workOrder, recommendation: creating });
      setCreating(null);
      onWorkOrderCreated(workOrder);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const other = stateOf(list.state, {
    onRetry: list.reload,
    isEmpty: (d) => d.recommendations.length === 0,
    empty: filter === 'all'
      ? 'No recommendations yet. One is raised when a point stays unusually far from its learned normal.'
      : `No ${filter === 'open' ? 'open recommendations' : 'recommendations with a work order'}.`,
  });

  return (
    <section className="panel" aria-labelledby="recommendations-title" data-testid="recommendations">
      <div className="panel-heading">
        <h2 id="recommendations-title">Recommendations</h2>
        <div className="pill-group" role="group" aria-label="Show recommendations">
          {FILTERS.map((f) => (
            <button key={f.value} type="button" aria-pressed={filter === f.value} onClick={() => setParams({ status: f.value === 'all' ? null : f.value, rec: null })}>
              {f.label}
            </button>
          ))}
        </div>
      </div>
      {created ? (
        <p className="banner ok" role="status" data-testid="work-order-created">
          Work order #{created.workOrder.id} created for {created.recommendation.site} / {created.recommendation.asset}
          {created.recommendation.method === 'point' ? <> <code>{created.recommendation.point}</code></> : null}.
        </p>
      ) : null}
      {other ?? (
        <>
          <StaleNotice error={list.state.error} />
          {recommendations.map((r) => (
            <RecommendationRow
              key={r.id} r={r} now={now} mayCreate={mayCreate} expanded={r.id === expandedId}
              onToggle={() => setParams({ rec: r.id === expandedId ? 'none' : String(r.id) })}
              onCreate={() => { setError(null); setCreating(r); }}
            />
          ))}
        </>
      )}
      <ActionDialog
        open={creating !== null}
        title="Create a work order"
        confirmLabel="Create work order"
        busy={busy}
        error={error}
        comment={{ label: 'Title (optional)', required: false }}
        onConfirm={(title) => void createWorkOrder(title)}
        onCancel={() => { setCreating(null); setError(null); }}
      >
        {creating ? (
          <p>
            {creating.method === 'asset' ? (
              <>A predictive work order for <strong>{creating.site} / {creating.asset}</strong> as a whole ({creating.moves?.length ?? 0} points moved together, most
              {' '}<code>{creating.point}</code> {formatZ(creating.zScore)}). Without a title it is called “Inspect {creating.asset}: its points moved together (…) since …”.</>
            ) : (
              <>A predictive work order for <strong>{creating.site} / {creating.asset}</strong>, point <code>{creating.point}</code>{' '}
              ({formatZ(creating.zScore)} from normal). Without a title it is called “Inspect {creating.asset} {creating.point}: … σ from normal since …”.</>
            )}
          </p>
        ) : null}
      </ActionDialog>
    </section>
  );
}
