import DeploymentsView from './deployments-view.tsx';
import DeploymentView from './deployment-view.tsx';
import NewDeploymentView from './new-deployment-view.tsx';
import ReleasesView from './releases-view.tsx';
import VersionReportView from './version-report-view.tsx';
import { defineRoute } from '../../app/route.ts';

// Signed updates (issue 11). Reading needs no role (deployment-routes.ts and the repository routes
// answer any signed-in caller); acting is for WRITER_ROLES (app/permissions.ts 'deployment.manage').
export const routes = [
  defineRoute({ id: 'updates', path: '/updates', title: 'Deployments', nav: { label: 'Updates', order: 42 }, component: DeploymentsView }),
  defineRoute({ id: 'updates-releases', path: '/updates/releases', title: 'Releases', component: ReleasesView }),
  defineRoute({ id: 'updates-versions', path: '/updates/versions', title: 'Version report', component: VersionReportView }),
  defineRoute({ id: 'updates-new', path: '/updates/deployments/new', title: 'New deployment', roles: ['admin', 'engineer'], component: NewDeploymentView }),
  defineRoute({ id: 'updates-deployment', path: '/updates/deployments/:id', title: (p) => `Deployment ${p.id ?? ''}`, component: DeploymentView }),
];
