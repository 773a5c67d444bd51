import IncidentListView from './incident-list-view.tsx';
import IncidentReviewView from './incident-review-view.tsx';
import { defineRoute } from '../../app/route.ts';

// No `roles`: GET /incidents and /incidents/:id answer every signed-in role; the actions inside
// are offered by role (permissions.ts), as incident-routes.ts checks them.
export const routes = [
  defineRoute({ id: 'incidents', path: '/incidents', title: 'Incidents', nav: { label: 'Incidents', order: 55 }, component: IncidentListView }),
  defineRoute({ id: 'incident-review', path: '/incidents/:id', title: (p) => `Incident ${p.id ?? ''}`, component: IncidentReviewView }),
];
