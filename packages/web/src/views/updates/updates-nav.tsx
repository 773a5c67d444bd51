/** The updates section's own navigation: deployments, releases and the version report. */
import { Link, useLocation } from '../../app/router.tsx';
import { updatesPages } from './update-api.ts';

const TABS = [
  { to: updatesPages.deployments, label: 'Deployments', match: (p: string) => p === '/updates' || p.startsWith('/updates/deployments') },
  { to: updatesPages.releases, label: 'Releases', match: (p: string) => p.startsWith(updatesPages.releases) },
  { to: updatesPages.versions, label: 'Version report', match: (p: string) => p.startsWith(updatesPages.versions) },
];

export function UpdatesNav() {
  const { pathname } = useLocation();
  return (
    <nav className="updates-nav" aria-label="Updates">
      <ul>
        {TABS.map((t) => (
          <li key={t.to}><Link to={t.to} aria-current={t.match(pathname) ? 'page' : undefined}>{t.label}</Link></li>
        ))}
      </ul>
    </nav>
  );
}
