/**
 * What stops the work, said first and in red: a deviation (what the step expected against what the
 * panel showed; the work is paused until a manager acknowledges it with a reason), a site stop,
 * and where the work order is in its life when it is not being worked.
 */
import type { Deviation, DmopWorkOrderDetail, Role } from '../../app/api-types.ts';
import { formatTime, isoTime } from '../../app/format.ts';
import { mayDmop, rolesThatMay } from '../panels/dmop-roles.ts';
import { Link } from '../../app/router.tsx';

/** The deviation holding the work, if any (its record may still be being written). */
export function holdingDeviation(detail: DmopWorkOrderDetail): Deviation | 'recording' | null {
  const hold = detail.workOrder.hold;
  if (!hold) return null;
  return detail.deviations.find((d) => d.id === hold.deviationId) ?? detail.deviations.find((d) => d.acknowledgedAt === null) ?? 'recording';
}

export function DeviationBanner({ detail, role, onAcknowledge }: { detail: DmopWorkOrderDetail; role: Role | null; onAcknowledge(d: Deviation): void }) {
  const d = holdingDeviation(detail);
  if (d === null) return null;
  if (d === 'recording') {
    return (
      <div className="banner bad deviation-banner" role="alert" data-testid="deviation-banner" data-deviation-id="">
        <span aria-hidden="true">◆ </span>Deviation: the panel did something the procedure does not expect now. Stop. Work is paused until a manager acknowledges.
      </div>
    );
  }
  const stepTitle = detail.template.steps[d.step]?.title;
  return (
    <div className="banner bad deviation-banner" role="alert" data-testid="deviation-banner" data-deviation-id={d.id} data-kind={d.kind}>
      <div><span aria-hidden="true">◆ </span>Deviation at step {d.step + 1}{stepTitle ? ` (${stepTitle})` : ''} on {d.panel}. Stop: work is paused until a manager acknowledges.</div>
      <dl className="facts banner-detail">
        <dt>Expected</dt>
        <dd data-testid="deviation-expected">{d.expected}</dd>
        <dt>Observed</dt>
        <dd data-testid="deviation-observed">{d.observed}</dd>
        <dt>When</dt>
        <dd><time dateTime={isoTime(d.at)}>{formatTime(d.at)}</time>{d.incidentId !== null ? <>; <Link to={`/incidents/${d.incidentId}`} className="banner-link">incident #{d.incidentId}</Link></> : null}</dd>
      </dl>
      <div className="deviation-actions">
        {mayDmop(role, 'deviation.acknowledge') ? (
          <button type="button" className="touch" data-testid="acknowledge-deviation" onClick={() => onAcknowledge(d)}>Acknowledge deviation</button>
        ) : <span data-testid="deviation-wait">Ask a manager ({rolesThatMay('deviation.acknowledge')}) to acknowledge it; the work then resumes at step {d.step + 1}.</span>}
      </div>
    </div>
  );
}

export function SiteStopBanner({ detail }: { detail: DmopWorkOrderDetail }) {
  const s = detail.stopped;
  if (!s) return null;
  return (
    <div className="banner bad site-stop-banner" role="alert" data-testid="site-stop-banner" data-site={s.site}>
      <span aria-hidden="true">■ </span>Stop work: all work at {s.site} was stopped by {s.by} at <time dateTime={isoTime(s.at)}>{formatTime(s.at)}</time>. Wait for the supervisor.
      <p className="banner-detail">Reason: {s.reason}</p>
    </div>
  );
}

/** Draft, approved, completed or aborted: where the work order is, and what happens next. */
export function LifecycleNote({ detail }: { detail: DmopWorkOrderDetail }) {
  const wo = detail.workOrder;
  switch (wo.status) {
    case 'draft':
      return <p className="notice" data-testid="work-order-state-note" data-status={wo.status}>Draft: a manager other than {wo.createdBy} must approve it, then it is released to its panels. Do not open the panels yet.</p>;
    case 'approved':
      return <p className="notice" data-testid="work-order-state-note" data-status={wo.status}>Approved by {wo.approvedBy}: waiting to be released to its panels. Do not open the panels yet.</p>;
    case 'released':
      return <p className="banner ok" data-testid="work-order-state-note" data-status={wo.status}>Released: the panel is yours during the window. Opening it for step 1 starts the work.</p>;
    case 'completed':
      return (
        <p className="banner ok wo-done-banner" data-testid="work-order-complete" data-status={wo.status}>
          <span aria-hidden="true">✓ </span>Complete: all {detail.template.steps.length} steps done{wo.endedAt ? <> at <time dateTime={isoTime(wo.endedAt)}>{formatTime(wo.endedAt)}</time></> : null}.
        </p>
      );
    case 'aborted':
      return (
        <p className="banner bad" data-testid="work-order-aborted" data-status={wo.status}>
          Aborted{wo.endedAt ? <> at <time dateTime={isoTime(wo.endedAt)}>{formatTime(wo.endedAt)}</time></> : null}: {wo.endReason ?? 'no reason given'}. Close the panel and leave it as it is.
        </p>
      );
    default:
      return null;
  }
}
