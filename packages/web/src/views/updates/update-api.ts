/**
 * Where signed updates live in the API (update-repository-routes.ts, deployment-routes.ts), and
 * the dashboard's own pages for them, all under /updates.
 */
import { query } from '../../app/api-client.ts';
import type { DeploymentState, UpdateStream } from '../../app/api-types.ts';

const seg = encodeURIComponent;

export const updatesApi = {
  repositories: () => '/updates/repositories',
  repository: (product: string, stream: string) => `/updates/repositories/${seg(product)}/${seg(stream)}`,
  deployments: (filter: { group?: string; stream?: UpdateStream | ''; state?: DeploymentState | ''; limit?: number } = {}) => `/deployments${query(filter)}`,
  deployment: (id: string) => `/deployments/${seg(id)}`,
  devices: (id: string) => `/deployments/${seg(id)}/devices`,
  action: (id: string, action: 'pause' | 'resume' | 'abort' | 'start-installs') => `/deployments/${seg(id)}/${action}`,
  defer: (id: string, deviceId: string) => `/deployments/${seg(id)}/devices/${seg(deviceId)}/defer`,
  versionReport: (group: string, stream: UpdateStream) => `/groups/${seg(group)}/version-report${query({ stream })}`,
};

export const updatesPages = {
  deployments: '/updates',
  releases: '/updates/releases',
  versions: '/updates/versions',
  newDeployment: '/updates/deployments/new',
  deployment: (id: string) => `/updates/deployments/${seg(id)}`,
  versionReport: (group: string, stream: UpdateStream) => `/updates/versions${query({ group, stream })}`,
  newDeploymentOf: (r: { product: string; stream: string; version: string; group?: string }) => `/updates/deployments/new${query(r)}`,
};

export const STREAMS: readonly UpdateStream[] = ['application', 'platform'];
