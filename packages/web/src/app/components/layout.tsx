/**
 * The frame around every view: a skip link, the navigation (from the views' own route
 * definitions), the live-stream status in words, and who is signed in with sign-out.
 */
import type { ReactNode } from 'react';
import { useAuth } from '../auth.tsx';
import { useLiveStatus } from '../live.ts';
import { Link, useLocation } from '../router.tsx';
import { NAV } from '../views.ts';
import { formatClock } from '../format.ts';

function LiveIndicator() {
  const s = useLiveStatus();
  const label = s.status === 'live' ? 'Live' : s.status === 'connecting' ? 'Connecting…' : `Reconnecting${s.retryAt ? ` at ${formatClock(s.retryAt)}` : '…'}`;
  return (
    <span className={`live-status live-${s.status}`} data-testid="live-status" data-status={s.status} role="status" aria-live="polite">
      <span aria-hidden="true">{s.status === 'live' ? '● ' : '○ '}</span>{label}
    </span>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const auth = useAuth();
  const { pathname } = useLocation();
  const visible = NAV.filter((r) => !r.roles || (auth.user && r.roles.includes(auth.user.role)));
  const active = (path: string) => (path === '/' ? pathname === '/' : pathname === path || pathname.startsWith(`${path}/`));
  return (
    <div className="layout">
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to="/" className="brand">Shellguard</Link>
        <nav aria-label="Main">
          <ul>
            {visible.map((r) => (
              <li key={r.id}><Link to={r.path} aria-current={active(r.path) ? 'page' : undefined}>{r.nav!.label}</Link></li>
            ))}
          </ul>
        </nav>
        <div className="topbar-right">
          <LiveIndicator />
          {auth.user ? <span className="who" data-testid="signed-in-as">{auth.user.username} <span className="role">({auth.user.role})</span></span> : null}
          <button type="button" onClick={() => void auth.signOut()}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </div>
  );
}
