/**
 * The fleet view of a central server (issue 12): every site's assets, alarms, devices, incidents
 * and points' recent levels as the sites exported them, and fleet peers compared across sites.
 * Reading needs any token (as the site's own views).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CentralView } from '../federation/central-view.ts';
import { FLEET_KINDS, type FleetKind } from '../federation/fleet-record.ts';
import { ErrorResponse } from './schemas.ts';

export interface CentralRoutesOptions {
  central: Pick<CentralView, 'sites' | 'records' | 'peers'>;
}

const readErrors = { 400: ErrorResponse, 401: ErrorResponse };
const Site = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,30}$' });
const Any = Type.Unknown();

export const centralRoutes: FastifyPluginAsyncTypebox<CentralRoutesOptions> = async (app, { central }) => {
  app.get('/central/sites', {
    schema: {
      tags: ['central'], summary: 'Every site of the fleet: when it last sent, what the centre holds of it, its alarms not normal',
      response: { 200: Type.Object({ sites: Type.Array(Any) }), ...readErrors },
    },
  }, async () => ({ sites: await central.sites() }));

  app.get('/central/records/:kind', {
    schema: {
      tags: ['central'], summary: 'The current records of one kind from every site (or one): assets, alarms, devices, incidents, points',
      params: Type.Object({ kind: Type.Union(FLEET_KINDS.map((k) => Type.Literal(k))) }),
      querystring: Type.Object({ site: Type.Optional(Site) }),
      response: { 200: Type.Object({ records: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => ({ records: await central.records(req.params.kind as FleetKind, req.query.site) }));

  app.get('/central/peers', {
    schema: {
      tags: ['central'], summary: 'Assets of one profile across every site, most unlike their peers first (robust z of each point\'s hour level)',
      querystring: Type.Object({ profile: Type.String({ minLength: 1, maxLength: 200 }) }),
      response: { 200: Type.Object({ assets: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => ({ assets: await central.peers(req.query.profile) }));
};
