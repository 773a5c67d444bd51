/**
 * Every view of the dashboard, found by folder: `src/views/<id>/route.ts` exports `routes`, an
 * array of `defineRoute(...)`. Adding a view is adding a folder (later issues add procedures and
 * updates this way); nothing here changes.
 */
import type { RouteDefinition } from './route.ts';

const modules = import.meta.glob<{ routes: RouteDefinition[] }>('../views/*/route.ts', { eager: true });

export const ROUTES: readonly RouteDefinition[] = Object.entries(modules)
  .sort(([a], [b]) => a.localeCompare(b))
  .flatMap(([file, m]) => {
    if (!Array.isArray(m.routes)) throw new Error(`${file} must export routes: RouteDefinition[]`);
    return m.routes;
  })
  // Specific paths before patterns, so /alarms is not taken by a /:x route.
  .sort((a, b) => (a.path.includes(':') ? 1 : 0) - (b.path.includes(':') ? 1 : 0));

export const NAV = ROUTES.filter((r) => r.nav).sort((a, b) => a.nav!.order - b.nav!.order);
