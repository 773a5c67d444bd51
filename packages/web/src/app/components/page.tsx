/** A view's heading line: title, what it shows, and actions on the right. */
import type { ReactNode } from 'react';

export function PageHeader({ title, subtitle, actions }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle ? <p className="subtitle">{subtitle}</p> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

/** A role that cannot do something is told why, instead of finding a button that only answers 403. */
export function NotAllowed({ action, roles }: { action: string; roles: string }) {
  return <p className="not-allowed" data-testid="not-allowed">Your role cannot {action} (needs {roles}).</p>;
}
