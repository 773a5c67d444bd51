import OverviewView from './overview-view.tsx';
import { defineRoute } from '../../app/route.ts';

export const routes = [
  defineRoute({ id: 'overview', path: '/', title: 'Overview', nav: { label: 'Overview', order: 10 }, component: OverviewView }),
];
