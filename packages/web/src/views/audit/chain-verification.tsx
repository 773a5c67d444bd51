/**
 * The audit chain's verification (GET /audit/verify): the server walks the keyed hash chain and
 * checks it against the anchors kept outside the database, and says what is wrong and where.
 * Verification walks the whole log, so it runs when the page opens and when asked, not on a timer.
 */
import { useEffect, useState } from 'react';
import { api, isAbort, messageOf } from '../../app/api-client.ts';
import type { AuditVerification } from '../../app/api-types.ts';
import { ErrorState, LoadingState, StaleNotice } from '../../app/components/states.tsx';
import { formatClock, formatTime, isoTime } from '../../app/format.ts';

interface VerificationState {
  running: boolean;
  result: AuditVerification | null;
  checkedAt: number | null;
  error: string | null;
}

function where(p: AuditVerification['problems'][number]): string {
  const parts: string[] = [];
  if (p.seq !== undefined) parts.push(p.lastSeq !== undefined && p.lastSeq !== p.seq ? `events ${p.seq}–${p.lastSeq}` : `event ${p.seq}`);
  if (p.line !== undefined) parts.push(`anchor line ${p.line}`);
  return parts.join(', ');
}

function Verified({ result }: { result: AuditVerification }) {
  const newest = result.anchors.newest;
  return (
    <div className="banner ok" data-testid="audit-verify-status" data-ok="true" role="status">
      <span aria-hidden="true">✓ </span>
      Chain verified: {result.events.toLocaleString()} events intact, anchors checked: {result.anchors.checked.toLocaleString()}
      {' '}({newest ? <>newest seq {newest.seq}, anchored <time dateTime={isoTime(newest.at)}>{formatTime(newest.at)}</time></> : 'no anchor yet'}).
      {result.keyedFromSeq !== undefined && result.keyedFromSeq > 1 ? (
        <span className="verify-note"> Events from {result.keyedFromSeq} on are keyed; earlier ones are bound by the chain and the anchors.</span>
      ) : null}
    </div>
  );
}

function Broken({ result }: { result: AuditVerification }) {
  const total = result.problems.length + (result.omittedProblems ?? 0);
  return (
    <div className="banner bad" data-testid="audit-verify-status" data-ok="false" role="alert">
      <span aria-hidden="true">✗ </span>
      The audit chain does not verify: {total} problem{total === 1 ? '' : 's'} in {result.events.toLocaleString()} events
      {result.brokenAt !== undefined ? `, the first at event ${result.brokenAt}` : ''}. Events may have been edited, deleted or cut off; keep the database and the anchor file as they are and investigate.
      <ul className="verify-problems">
        {result.problems.map((p, i) => (
          <li key={i} data-testid="audit-verify-problem" data-code={p.code}>
            <code>{p.code}</code>{where(p) ? ` (${where(p)})` : ''}: {p.message}
          </li>
        ))}
        {result.omittedProblems ? <li>… and {result.omittedProblems} more not listed.</li> : null}
      </ul>
    </div>
  );
}

export function ChainVerification() {
  const [run, setRun] = useState(0);
  const [state, setState] = useState<VerificationState>({ running: true, result: null, checkedAt: null, error: null });

  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, running: true, error: null }));
    api.get<AuditVerification>('/audit/verify', { signal: controller.signal }).then((result) => {
      setState({ running: false, result, checkedAt: Date.now(), error: null });
    }, (err: unknown) => {
      if (isAbort(err)) return;
      setState((s) => ({ ...s, running: false, error: messageOf(err) }));
    });
    return () => controller.abort();
  }, [run]);

  const again = () => setRun((n) => n + 1);
  let body;
  if (state.result === null) {
    body = state.error !== null
      ? <ErrorState title="Could not verify the audit chain" message={state.error} onRetry={again} />
      : <LoadingState label="Verifying the audit chain…" />;
  } else {
    body = (
      <>
        <StaleNotice error={state.error} />
        {state.result.ok ? <Verified result={state.result} /> : <Broken result={state.result} />}
      </>
    );
  }

  return (
    <section className="panel" aria-labelledby="audit-verify-title">
      <h2 id="audit-verify-title">Chain verification</h2>
      {body}
      <div className="toolbar">
        <button type="button" onClick={again} disabled={state.running} data-testid="audit-verify-again">
          {state.running ? 'Verifying…' : 'Verify again'}
        </button>
        {state.checkedAt !== null ? <span className="muted">Checked at <time dateTime={isoTime(state.checkedAt)}>{formatClock(state.checkedAt)}</time></span> : null}
      </div>
    </section>
  );
}
