/**
 * One incident, reviewed: what happened (summary, the DMOP step log and people, the telemetry
 * captured around it), what has been done (history, comments) and the next move (assign, change
 * status, comment). Each action answers with the new state; the whole review is read again after
 * it, since the action also added a line to the history. Evidence captured later (its window
 * ends a few minutes after the incident) appears by polling.
 */
import type { IncidentReview } from '../../app/api-types.ts';
import { PageHeader } from '../../app/components/page.tsx';
import { EmptyState, StaleNotice, stateOf } from '../../app/components/states.tsx';
import type { ViewProps } from '../../app/route.ts';
import { Link } from '../../app/router.tsx';
import { useApi } from '../../app/use-api.ts';
import { IncidentActions } from './incident-actions.tsx';
import { IncidentComments } from './incident-comments.tsx';
import { IncidentEvidencePanel } from './incident-evidence-panel.tsx';
import { IncidentFacts } from './incident-facts.tsx';
import { IncidentHistory } from './incident-history.tsx';
import { IncidentSummary } from './incident-summary.tsx';

export default function IncidentReviewView({ params }: ViewProps) {
  const id = Number(params.id);
  const valid = Number.isSafeInteger(id) && id > 0;
  const { state, reload } = useApi<IncidentReview>(valid ? `/incidents/${id}` : null, { pollMs: 15_000 });
  const back = <Link to="/incidents">All incidents</Link>;
  if (!valid) {
    return (
      <>
        <PageHeader title="Incident" actions={back} />
        <EmptyState>“{params.id}” is not an incident number.</EmptyState>
      </>
    );
  }
  const review = state.data;
  return (
    <>
      <PageHeader title={review ? `Incident #${id}: ${review.incident.summary}` : `Incident #${id}`} actions={back} />
      {stateOf(state, { onRetry: reload, loading: 'Reading the incident…' }) ?? (
        <div data-testid="incident-review" data-incident-id={id} data-status={review!.incident.status}>
          <StaleNotice error={state.status === 'error' ? state.error : null} />
          <IncidentSummary incident={review!.incident} />
          <IncidentActions incident={review!.incident} onChanged={reload} />
          <IncidentFacts detail={review!.incident.detail} />
          <IncidentEvidencePanel evidence={review!.evidence} openedAt={review!.incident.openedAt} />
          <IncidentComments incidentId={id} comments={review!.comments} onAdded={reload} />
          <IncidentHistory history={review!.history} />
        </div>
      )}
    </>
  );
}
