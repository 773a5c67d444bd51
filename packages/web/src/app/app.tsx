/**
 * The app: who is signed in decides between the sign-in page and the layout; the live stream
 * runs while someone is signed in; the current path picks the view.
 * A view the role may not open says so — the server refuses its data anyway.
 */
import { Suspense, useEffect, useMemo, type ReactNode } from 'react';
import { AuthProvider, useAuth } from './auth.tsx';
import { live } from './live.ts';
import { resetAlarms } from './alarm-store.ts';
import { compileRoutes, matchRoute, navigate, safeReturnPath, useLocation } from './router.tsx';
import { ROUTES } from './views.ts';
import { Layout } from './components/layout.tsx';
import { ErrorState, LoadingState } from './components/states.tsx';
import { ErrorBoundary } from './components/error-boundary.tsx';
import type { RouteDefinition } from './route.ts';

const compiled = compileRoutes(ROUTES);
const SIGN_IN_PATH = '/sign-in';

function titleOf(route: RouteDefinition, params: Record<string, string>): string {
  return typeof route.title === 'function' ? route.title(params) : route.title;
}

function Shell() {
  const auth = useAuth();
  const { pathname, search } = useLocation();
  const match = useMemo(() => matchRoute(compiled, pathname), [pathname]);
  const signedIn = auth.state.status === 'signed-in';

  useEffect(() => {
    if (!signedIn) return undefined;
    live.start();
    return () => {
      live.stop();
      resetAlarms();
    };
  }, [signedIn]);

  // Signed out anywhere: to the sign-in page, remembering where to come back to.
  useEffect(() => {
    if (auth.state.status === 'signed-out' && pathname !== SIGN_IN_PATH) {
      const back = pathname === '/' ? '' : `?next=${encodeURIComponent(pathname + search)}`;
      navigate(`${SIGN_IN_PATH}${back}`, { replace: true });
    }
    if (signedIn && pathname === SIGN_IN_PATH) {
      navigate(safeReturnPath(new URLSearchParams(search).get('next')), { replace: true });
    }
  }, [auth.state.status, signedIn, pathname, search]);

  useEffect(() => {
    document.title = match ? `${titleOf(match.route, match.params)} · Shellguard` : 'Shellguard';
  }, [match]);

  if (auth.state.status === 'checking') return <main className="center"><LoadingState label="Checking your session…" /></main>;
  if (auth.state.status === 'unreachable') {
    return <main className="center"><ErrorState title="The server cannot be reached" message={auth.state.message} onRetry={auth.recheck} /></main>;
  }
  if (!match) {
    return signedIn ? <Layout><ErrorState title="No such page" message={`Nothing lives at ${pathname}.`} /></Layout> : null;
  }
  const View = match.route.component;
  const body: ReactNode = (
    <ErrorBoundary key={pathname}>
      <Suspense fallback={<LoadingState />}>
        <View params={match.params} />
      </Suspense>
    </ErrorBoundary>
  );
  if (match.route.public) return <main className="center">{body}</main>;
  if (!signedIn || !auth.user) return null;
  if (match.route.roles && !match.route.roles.includes(auth.user.role)) {
    return (
      <Layout>
        <ErrorState title="Not for your role" message={`Your role (${auth.user.role}) cannot open ${titleOf(match.route, match.params)}: it needs ${match.route.roles.join(', ')}.`} />
      </Layout>
    );
  }
  return <Layout>{body}</Layout>;
}

export function App() {
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}
