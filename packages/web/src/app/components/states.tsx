/**
 * The three states every view shows besides its data, each with a test id the browser tests and
 * screen readers rely on: loading (announced politely), error (with what to do and a retry), and
 * empty (what would appear here, and why there is nothing yet).
 */
import type { ReactNode } from 'react';

export function LoadingState({ label = 'Loading…' }: { label?: string }) {
  return <div className="state state-loading" role="status" aria-live="polite" data-testid="loading-state"><span className="spinner" aria-hidden="true" />{label}</div>;
}

export function ErrorState({ message, onRetry, title = 'Could not load this' }: { message: string; onRetry?: () => void; title?: string }) {
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <strong><span aria-hidden="true">⚠ </span>{title}</strong>
      <p>{message}</p>
      {onRetry ? <button type="button" onClick={onRetry}>Try again</button> : null}
    </div>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <div className="state state-empty" data-testid="empty-state">{children}</div>;
}

/** A refresh that failed while older data is still shown: say so without hiding the data. */
export function StaleNotice({ error }: { error: string | null }) {
  if (!error) return null;
  return <p className="stale-notice" role="status" data-testid="stale-notice"><span aria-hidden="true">⚠ </span>Not up to date: {error}</p>;
}

/** Loading, error or empty — or `null` when there is data to show. */
export function stateOf<T>(
  s: { status: 'loading' | 'ready' | 'error'; data: T | undefined; error: string | null },
  options: { onRetry?: () => void; isEmpty?: (data: T) => boolean; empty?: ReactNode; loading?: string },
): ReactNode | null {
  if (s.data === undefined) {
    if (s.status === 'error') return <ErrorState message={s.error ?? 'unknown error'} {...(options.onRetry ? { onRetry: options.onRetry } : {})} />;
    return <LoadingState {...(options.loading ? { label: options.loading } : {})} />;
  }
  if (options.isEmpty?.(s.data)) return <EmptyState>{options.empty ?? 'Nothing here yet.'}</EmptyState>;
  return null;
}
