import AssetView from './asset-view.tsx';
import { defineRoute } from '../../app/route.ts';

export const routes = [
  defineRoute({
    id: 'asset', path: '/assets/:site/:asset', title: (p) => `${p.asset ?? 'Asset'} · ${p.site ?? ''}`,
    component: AssetView,
  }),
];
