import AuditView from './audit-view.tsx';
import { defineRoute } from '../../app/route.ts';

// No `roles`: GET /audit, /audit/verify and /incidents answer any authenticated caller
// (audit-routes.ts registers them without requireRole), so every signed-in role may open this.
export const routes = [
  defineRoute({ id: 'audit', path: '/audit', title: 'Audit and incidents', nav: { label: 'Audit', order: 60 }, component: AuditView }),
];
