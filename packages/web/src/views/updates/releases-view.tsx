/**
 * Releases: every TUF image repository (a product and stream) with its roles — keys, threshold,
 * metadata version and expiry — and its signed releases (targets): version, size, SHA-256 prefix,
 * platform and Node ABI, and the reference digests each release carries. Root and targets are
 * signed offline; snapshot and timestamp by the server's online keys. Engineers start a
 * deployment of a release from here.
 */
import type { TufRoleName, TufRoleSummary, UpdateRepositoryDetail, UpdateRepositorySummary } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { StatusBadge } from '../../app/components/badges.tsx';
import { PageHeader } from '../../app/components/page.tsx';
import { StaleNotice, stateOf } from '../../app/components/states.tsx';
import { formatAgo, formatTime, isoTime } from '../../app/format.ts';
import { can } from '../../app/permissions.ts';
import { Link } from '../../app/router.tsx';
import { useApi, useNow } from '../../app/use-api.ts';
import { updatesApi, updatesPages } from './update-api.ts';
import { formatBytes, Hash } from './update-status.tsx';
import { UpdatesNav } from './updates-nav.tsx';
import './updates.css';

const ROLES: readonly TufRoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];
const ROLE_SIGNER: Record<TufRoleName, string> = { root: 'offline', targets: 'offline', snapshot: 'server (online)', timestamp: 'server (online)' };
const WEEK = 7 * 86_400_000;

function Expiry({ expires, now }: { expires: string | null; now: number }) {
  if (expires === null) return <span className="muted">not published</span>;
  const at = Date.parse(expires);
  const cls = at <= now ? 'role-expiry-bad' : at - now < WEEK ? 'role-expiry-warn' : undefined;
  return (
    <span {...(cls ? { className: cls } : {})}>
      <time dateTime={expires} title={formatTime(at)}>{formatTime(at)}</time>
      <span className="muted fine"> ({at <= now ? 'expired ' : ''}{formatAgo(at, now)})</span>
    </span>
  );
}

function RolesTable({ roles, now, label }: { roles: Record<TufRoleName, TufRoleSummary>; now: number; label: string }) {
  return (
    <table aria-label={label} data-testid="repository-roles">
      <thead><tr><th scope="col">Role</th><th scope="col">Signed by</th><th scope="col" className="num">Keys</th><th scope="col" className="num">Threshold</th><th scope="col" className="num">Version</th><th scope="col">Expires</th></tr></thead>
      <tbody>
        {ROLES.map((r) => {
          const role = roles[r];
          return (
            <tr key={r} data-testid="repository-role" data-role={r}>
              <th scope="row">{r}</th>
              <td>{ROLE_SIGNER[r]}</td>
              <td className="num" title={role.keyids.join('\n')}>{role.keyids.length}</td>
              <td className="num" data-testid="role-threshold">{role.threshold} of {role.keyids.length}</td>
              <td className="num">{role.version ?? '—'}</td>
              <td><Expiry expires={role.expires} now={now} /></td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function RepositoryPanel({ summary, now, mayDeploy }: { summary: UpdateRepositorySummary; now: number; mayDeploy: boolean }) {
  const detail = useApi<{ repository: UpdateRepositoryDetail }>(updatesApi.repository(summary.product, summary.stream));
  const repo = detail.state.data?.repository;
  const other = stateOf(detail.state, { onRetry: detail.reload, loading: 'Loading its releases…' });
  const title = `${summary.product} · ${summary.stream}`;
  const headingId = `repo-${summary.product}-${summary.stream}`;
  // Newest release first (the repository lists them in signing order).
  const targets = [...(repo?.targets ?? [])].reverse();
  return (
    <section className="panel" aria-labelledby={headingId} data-testid="repository" data-product={summary.product} data-stream={summary.stream}>
      <div className="panel-heading">
        <h2 id={headingId}>{title}</h2>
        {summary.targetsTrusted
          ? <StatusBadge tone="ok" label="targets verify under the current root" />
          : <StatusBadge tone="bad" label="targets no longer verify: sign them again" />}
      </div>
      <p className="muted fine">Repository created <time dateTime={isoTime(summary.createdAt)}>{formatTime(summary.createdAt)}</time>.</p>
      <RolesTable roles={summary.roles} now={now} label={`TUF roles of ${title}`} />
      <h3>Signed releases</h3>
      <StaleNotice error={detail.state.status === 'error' && repo ? detail.state.error : null} />
      {other ?? (targets.length === 0 ? <p className="muted" data-testid="no-releases">No release is signed yet. Sign one offline with <code>shellguard release sign</code> and send it with <code>shellguard release upload</code>.</p> : (
        <div className="table-scroll short">
          <table aria-label={`Signed releases of ${title}`} data-testid="release-table">
            <thead>
              <tr><th scope="col">Version</th><th scope="col">Target</th><th scope="col" className="num">Size</th><th scope="col">SHA-256</th><th scope="col">Platform</th><th scope="col">Reference digests</th>{mayDeploy ? <th scope="col"><span className="sr-only">Actions</span></th> : null}</tr>
            </thead>
            <tbody>
              {targets.map((t) => (
                <tr key={t.name} data-testid="release-row" data-version={t.custom.version} data-target={t.name}>
                  <th scope="row" data-testid="release-version">{t.custom.version}</th>
                  <td><code>{t.name}</code></td>
                  <td className="num" title={`${t.length} bytes`}>{formatBytes(t.length)}</td>
                  <td><Hash value={t.sha256} testId="release-sha256" /></td>
                  <td>{t.custom.platform}<div className="muted fine">Node ABI {t.custom.nodeAbi}</div></td>
                  <td>
                    <ul className="plain-list compact">
                      {t.custom.components.map((c) => <li key={c.component}><code>{c.component}</code> <Hash value={c.digest} /></li>)}
                    </ul>
                  </td>
                  {mayDeploy ? (
                    <td className="row-actions">
                      <Link to={updatesPages.newDeploymentOf({ product: t.custom.product, stream: t.custom.stream, version: t.custom.version })} className="button-link" aria-label={`Deploy ${summary.product} ${t.custom.version}`}>Deploy…</Link>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}

export default function ReleasesView() {
  const role = useRole();
  const now = useNow(30_000);
  const list = useApi<{ repositories: UpdateRepositorySummary[] }>(updatesApi.repositories(), { pollMs: 60_000 });
  const other = stateOf(list.state, {
    onRetry: list.reload, loading: 'Loading the image repositories…', isEmpty: (d) => d.repositories.length === 0,
    empty: <p>No image repository yet. An admin creates one from its offline-signed root: <code>shellguard release init</code>.</p>,
  });
  return (
    <>
      <PageHeader title="Releases" subtitle="Signed releases per image repository (TUF): who signs what, how many signatures each role needs, and when its metadata expires." />
      <UpdatesNav />
      <StaleNotice error={list.state.status === 'error' && list.state.data ? list.state.error : null} />
      {other ?? list.state.data!.repositories.map((r) => (
        <RepositoryPanel key={`${r.product}/${r.stream}`} summary={r} now={now} mayDeploy={can(role, 'deployment.manage')} />
      ))}
    </>
  );
}
