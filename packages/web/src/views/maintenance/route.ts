import MaintenanceView from './maintenance-view.tsx';
import { defineRoute } from '../../app/route.ts';

export const routes = [
  defineRoute({
    id: 'maintenance', path: '/maintenance', title: 'Maintenance', nav: { label: 'Maintenance', order: 50 },
    component: MaintenanceView,
  }),
];
