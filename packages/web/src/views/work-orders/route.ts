import WorkOrdersView from './work-orders-view.tsx';
import WorkOrderView from './work-order-view.tsx';
import { defineRoute } from '../../app/route.ts';

// No `roles`: GET /work-orders and /work-orders/:id answer any signed-in caller; who may act is
// the procedures domain's rule (views/panels/dmop-roles.ts), and the views offer only that.
export const routes = [
  defineRoute({ id: 'work-orders', path: '/work-orders', title: 'Work orders', nav: { label: 'Work orders', order: 45 }, component: WorkOrdersView }),
  defineRoute({ id: 'work-order', path: '/work-orders/:id', title: (p) => `Work order ${p.id ?? ''}`, component: WorkOrderView }),
];
