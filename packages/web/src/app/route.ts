/**
 * What a view declares about itself. Each folder under `src/views/` exports one or more of these
 * from its `route.ts`; the app finds them by glob, so adding a view is adding a folder.
 */
import type { ComponentType, LazyExoticComponent } from 'react';
import type { Role } from './api-types.ts';

export type RouteParams = Record<string, string>;

export interface ViewProps {
  params: RouteParams;
}

export interface RouteDefinition {
  /** Stable id (also the folder name by convention). */
  id: string;
  /** Path pattern with `:name` segments, e.g. `/assets/:site/:asset`. */
  path: string;
  /** Document title; a function gets the route's parameters. */
  title: string | ((params: RouteParams) => string);
  /** Present in the main navigation when given, ordered by `order`. */
  nav?: { label: string; order: number };
  /** Roles that may open the view; everyone signed in when absent. */
  roles?: readonly Role[];
  /** Shown without a session (the sign-in page), outside the main layout. */
  public?: boolean;
  /**
   * The view, imported directly (not `lazy`): the app is one bundle. A lazy view costs a
   * 300 ms Suspense reveal on every first visit in React 19, more than its bytes save on a LAN
   * (bench/dashboard measured it).
   */
  component: ComponentType<ViewProps> | LazyExoticComponent<ComponentType<ViewProps>>;
}

export function defineRoute(route: RouteDefinition): RouteDefinition {
  return route;
}
