/**
 * A small History API router: real paths (the server answers index.html for any non-/api path),
 * `navigate()` for code, `<Link>` for people, and `useSearchParams()` for state worth keeping in
 * the address (filters, time ranges), so a reload or a shared link shows the same thing.
 */
import { useCallback, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';
import type { RouteDefinition, RouteParams } from './route.ts';

const NAVIGATE_EVENT = 'shellguard:navigate';

function subscribe(listener: () => void): () => void {
  window.addEventListener('popstate', listener);
  window.addEventListener(NAVIGATE_EVENT, listener);
  return () => {
    window.removeEventListener('popstate', listener);
    window.removeEventListener(NAVIGATE_EVENT, listener);
  };
}

const currentHref = () => window.location.pathname + window.location.search;

export interface Location {
  pathname: string;
  search: string;
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, currentHref);
  const q = href.indexOf('?');
  return q === -1 ? { pathname: href, search: '' } : { pathname: href.slice(0, q), search: href.slice(q) };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === currentHref()) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

/** Only same-origin paths are followed after sign-in (never `//evil.example`). */
export function safeReturnPath(path: string | null): string {
  if (!path || !path.startsWith('/') || path.startsWith('//') || path.startsWith('/\\')) return '/';
  return path;
}

/** The query string as a map, and a setter that replaces the history entry (filters are not steps). */
export function useSearchParams(): [URLSearchParams, (changes: Record<string, string | null | undefined>) => void] {
  const { search } = useLocation();
  const params = new URLSearchParams(search);
  const update = useCallback((changes: Record<string, string | null | undefined>) => {
    const next = new URLSearchParams(window.location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === undefined || value === '') next.delete(key);
      else next.set(key, value);
    }
    const text = next.toString();
    navigate(window.location.pathname + (text ? `?${text}` : ''), { replace: true });
  }, []);
  return [params, update];
}

interface CompiledRoute {
  route: RouteDefinition;
  regex: RegExp;
  names: string[];
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileRoutes(routes: readonly RouteDefinition[]): CompiledRoute[] {
  return routes.map((route) => {
    const names: string[] = [];
    const pattern = route.path.split('/').map((segment) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1));
        return '([^/]+)';
      }
      return escapeRegex(segment);
    }).join('/');
    return { route, names, regex: new RegExp(`^${pattern === '' ? '/' : pattern}/?$`) };
  });
}

export interface RouteMatch {
  route: RouteDefinition;
  params: RouteParams;
}

export function matchRoute(compiled: readonly CompiledRoute[], pathname: string): RouteMatch | null {
  for (const { route, regex, names } of compiled) {
    const m = regex.exec(pathname);
    if (!m) continue;
    const params: RouteParams = {};
    try {
      names.forEach((name, i) => { params[name] = decodeURIComponent(m[i + 1]!); });
    } catch {
      continue; // a malformed %-escape is not this route
    }
    return { route, params };
  }
  return null;
}

/** A path from a pattern: `pathTo('/assets/:site/:asset', {site, asset})`. */
export function pathTo(pattern: string, params: RouteParams): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; children: ReactNode };

/** An ordinary link (middle-click, copy address and screen readers all work) that navigates in-app. */
export function Link({ to, onClick, children, ...rest }: LinkProps) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (rest.target && rest.target !== '_self') return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest}>{children}</a>;
}
