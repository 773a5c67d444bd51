import FleetView from './fleet-view.tsx';
import { defineRoute } from '../../app/route.ts';

export const routes = [
  defineRoute({ id: 'fleet', path: '/fleet', title: 'Fleet', nav: { label: 'Fleet', order: 40 }, component: FleetView }),
];
