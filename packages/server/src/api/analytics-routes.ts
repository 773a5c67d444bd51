/**
 * Asset health, maintenance recommendations, work orders, the reactive-work KPI and fleet peers
 * over HTTP (issue 4). Reading needs any token; creating work orders needs admin, engineer or
 * technician, and the caller is recorded as the work order's author (`token:<id>`). Declaring an
 * asset's behaviour normal again (its models relearn) needs admin or engineer, and is audited.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AssetHealth } from '../analytics/health/asset-health.ts';
import type { MaintenanceBook } from '../analytics/maintenance/maintenance-book.ts';
import type { PointScoreHistory } from '../analytics/live/live-analytics.ts';
import type { PeerOutlier } from '../analytics/peers/fleet-peers.ts';
import type { Role } from '../auth/roles.ts';
import { ApiError } from './api-error.ts';
import { actorOf, requireRole, WRITER_ROLES } from './bearer-auth.ts';
import { ErrorResponse } from './schemas.ts';

/** What the routes call: a port, so they can be tested against fakes. */
export interface AnalyticsApi {
  health(site?: string): AssetHealth[];
  peers(profile: string): PeerOutlier[];
  /** Anomaly scores of one asset's points, the last 60 buckets each. */
  scores(site: string, asset: string): PointScoreHistory[];
  maintenance: Pick<MaintenanceBook,
    'recommendations' | 'workOrderFromRecommendation' | 'workOrders' | 'createWorkOrder' | 'completeWorkOrder' | 'reactiveShare'>;
  /**
   * Declares one asset's behaviour normal from now (live-analytics.ts `relearn`), recorded as done
   * by `actor`; undefined when live analytics has seen no point of that asset.
   */
  relearn(site: string, asset: string, actor: string): Promise<{ points: number; assetModel: boolean } | undefined>;
}

export interface AnalyticsRoutesOptions {
  analytics: AnalyticsApi;
}

export const WORK_ORDER_ROLES: readonly Role[] = ['admin', 'engineer', 'technician'];

const readErrors = { 400: ErrorResponse, 401: ErrorResponse };
const writeErrors = { ...readErrors, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const worker = requireRole(WORK_ORDER_ROLES);
const writer = requireRole(WRITER_ROLES);

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Any = Type.Unknown();

export const analyticsRoutes: FastifyPluginAsyncTypebox<AnalyticsRoutesOptions> = async (app, { analytics }) => {
  app.get('/asset-health', {
    schema: {
      tags: ['analytics'], summary: 'Health index 0-100 per asset, worst first (from anomaly scores and active alarms)',
      querystring: Type.Object({ site: Type.Optional(Name) }), response: { 200: Type.Object({ assets: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => ({ assets: analytics.health(req.query.site) }));

  app.get('/asset-scores', {
    schema: {
      tags: ['analytics'], summary: 'Anomaly scores (0-1, smoothed) of one asset\'s points over their last 60 analytics buckets, with each point\'s learned baseline',
      querystring: Type.Object({ site: Name, asset: Name }), response: { 200: Type.Object({ points: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => ({ points: analytics.scores(req.query.site, req.query.asset) }));

  app.get('/recommendations', {
    schema: {
      tags: ['analytics'], summary: 'Maintenance recommendations with their evidence, newest first',
      querystring: Type.Object({ site: Type.Optional(Name), status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('work-order')])) }),
      response: { 200: Type.Object({ recommendations: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => ({
    recommendations: await analytics.maintenance.recommendations({
      ...(req.query.site !== undefined ? { site: req.query.site } : {}), ...(req.query.status !== undefined ? { status: req.query.status } : {}),
    }),
  }));

  app.post('/recommendations/:id/work-order', {
    onRequest: worker,
    preValidation: async (request) => { if (request.body === undefined || request.body === null) request.body = {}; },
    schema: {
      tags: ['analytics'], summary: 'Turn an open recommendation into a predictive work order (409 if it already has one)',
      params: IdParams, body: Type.Object({ title: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }),
      response: { 201: Type.Object({ workOrder: Any }), ...writeErrors },
    },
  }, async (req, reply) => {
    const workOrder = await analytics.maintenance.workOrderFromRecommendation(req.params.id, actorOf(req), req.body.title);
    return reply.code(201).send({ workOrder });
  });

  app.get('/work-orders', {
    schema: {
      tags: ['analytics'], summary: 'Work orders, newest first',
      querystring: Type.Object({
        site: Type.Optional(Name), status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('done')])),
        type: Type.Optional(Type.Union([Type.Literal('planned'), Type.Literal('predictive'), Type.Literal('reactive')])),
      }),
      response: { 200: Type.Object({ workOrders: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => {
    const { site, status, type } = req.query;
    return {
      workOrders: await analytics.maintenance.workOrders({
        ...(site !== undefined ? { site } : {}), ...(status !== undefined ? { status } : {}), ...(type !== undefined ? { type } : {}),
      }),
    };
  });

  app.post('/work-orders', {
    onRequest: worker,
    schema: {
      tags: ['analytics'], summary: 'Create a planned or reactive work order (predictive ones come from recommendations)',
      body: Type.Object({
        site: Name, asset: Name, point: Type.Optional(Name),
        type: Type.Union([Type.Literal('planned'), Type.Literal('reactive')]), title: Type.String({ minLength: 1, maxLength: 500 }),
      }, { additionalProperties: false }),
      response: { 201: Type.Object({ workOrder: Any }), ...writeErrors },
    },
  }, async (req, reply) => reply.code(201).send({ workOrder: await analytics.maintenance.createWorkOrder(req.body, actorOf(req)) }));

  app.post('/work-orders/:id/done', {
    onRequest: worker,
    preValidation: async (request) => { if (request.body === undefined || request.body === null) request.body = {}; },
    schema: {
      tags: ['analytics'], summary: 'Mark a work order done', params: IdParams,
      response: { 200: Type.Object({ workOrder: Any }), ...writeErrors },
    },
  }, async (req) => ({ workOrder: await analytics.maintenance.completeWorkOrder(req.params.id) }));

  app.post('/asset-models/relearn', {
    onRequest: writer,
    schema: {
      tags: ['analytics'],
      summary: 'Declare an asset\'s behaviour normal from now (after a repair or a changed duty): its asset model and its points\' baselines and detectors learn again',
      body: Type.Object({ site: Name, asset: Name }, { additionalProperties: false }),
      response: { 200: Type.Object({ site: Type.String(), asset: Type.String(), points: Type.Integer(), assetModel: Type.Boolean() }), ...writeErrors },
    },
  }, async (req) => {
    const { site, asset } = req.body;
    const done = await analytics.relearn(site, asset, actorOf(req));
    if (!done) throw new ApiError('not_found', `live analytics has seen no point of asset ${site}/${asset}; nothing to relearn`);
    return { site, asset, ...done };
  });

  app.get('/kpi/reactive-share', {
    schema: {
      tags: ['analytics'], summary: 'Share of reactive work orders per site and ISO week (Monday 00:00 UTC), oldest first',
      querystring: Type.Object({ site: Type.Optional(Name), from: Type.Optional(Type.Integer()), to: Type.Optional(Type.Integer()) }),
      response: { 200: Type.Object({ periods: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => {
    const { site, from, to } = req.query;
    return {
      periods: await analytics.maintenance.reactiveShare({
        ...(site !== undefined ? { site } : {}), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}),
      }),
    };
  });

  app.get('/peers', {
    schema: {
      tags: ['analytics'], summary: 'Assets of one equipment profile across all sites, most unusual first (robust z vs peers\' median/MAD)',
      querystring: Type.Object({ profile: Name }), response: { 200: Type.Object({ assets: Type.Array(Any) }), ...readErrors },
    },
  }, async (req) => ({ assets: analytics.peers(req.query.profile) }));
};
