/** Sites, areas, assets and devices (ARCHITECTURE.md §4). */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DEVICE_ID_PATTERN } from '@shellguard/protocol';
import type { AssetMoves } from '../registry/asset-moves.ts';
import type { SiteRegistry } from '../registry/site-registry.ts';
import type { TelemetryStore } from '../telemetry/telemetry-store.ts';
import { ApiError } from './api-error.ts';
import { actorOf, requireRole, WRITER_ROLES } from './bearer-auth.ts';
import { Area, Asset, AssetDetail, Device, ErrorResponse, Site } from './schemas.ts';

export interface RegistryRoutesOptions {
  registry: SiteRegistry;
  store: TelemetryStore;
  /** Moving an asset between guardians (audited, and only to a guardian of its site): the route exists only with it. */
  assetMoves?: AssetMoves;
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };

export const registryRoutes: FastifyPluginAsyncTypebox<RegistryRoutesOptions> = async (app, { registry, store, assetMoves }) => {
  app.get('/sites', {
    schema: { tags: ['sites'], summary: 'List sites', response: { 200: Type.Object({ sites: Type.Array(Site) }), ...errors } },
  }, async () => ({ sites: await registry.listSites() }));

  app.get('/sites/:site/areas', {
    schema: {
      tags: ['sites'],
      summary: 'List the areas of a site',
      params: Type.Object({ site: Type.String({ minLength: 1 }) }),
      response: { 200: Type.Object({ areas: Type.Array(Area) }), ...errors },
    },
  }, async (req) => {
    if (!(await registry.listSites()).some((s) => s.id === req.params.site)) {
      throw new ApiError('not_found', `no site "${req.params.site}"`);
    }
    return { areas: await registry.listAreas(req.params.site) };
  });

  app.get('/assets', {
    schema: {
      tags: ['assets'],
      summary: 'List assets, optionally of one site and/or one type',
      querystring: Type.Object({ site: Type.Optional(Type.String()), type: Type.Optional(Type.String()) }),
      response: { 200: Type.Object({ assets: Type.Array(Asset) }), ...errors },
    },
  }, async (req) => ({ assets: await registry.listAssets({ site: req.query.site, type: req.query.type }) }));

  app.get('/assets/:asset', {
    schema: {
      tags: ['assets'],
      summary: 'One asset with its points and their latest values',
      params: Type.Object({ asset: Type.String({ minLength: 1 }) }),
      querystring: Type.Object({
        site: Type.Optional(Type.String({ description: 'Required when the asset id exists in several sites' })),
      }),
      response: { 200: AssetDetail, 409: ErrorResponse, ...errors },
    },
  }, async (req) => {
    const found = await registry.findAssets(req.params.asset, req.query.site);
    if (found.length === 0) throw new ApiError('not_found', `no asset "${req.params.asset}"`);
    if (found.length > 1) {
      throw new ApiError('asset_ambiguous', `asset "${req.params.asset}" exists in several sites; add ?site=`, {
        sites: found.map((a) => a.site),
      });
    }
    const asset = found[0]!;
    const declared = await registry.listPoints(asset.site, asset.id);
    const names = new Set(declared.map((p) => p.name));
    // Points that reported samples without being declared in a birth are shown too.
    const undeclared = store.pointsOf(asset.site, asset.id).filter((p) => !names.has(p.point));
    const points = await Promise.all([
      ...declared.map((p) => ({ name: p.name, unit: p.unit, kind: p.kind as string, description: p.description })),
      ...undeclared.map((p) => ({ name: p.point, unit: '', kind: 'analog', description: '' })),
    ].map(async (p) => {
      const id = await store.pointId(asset.site, asset.id, p.name);
      return { id, ...p, latest: store.latest(id) ?? null };
    }));
    return { ...asset, points };
  });

  if (assetMoves) {
    app.post('/sites/:site/assets/:asset/move', {
      onRequest: requireRole(WRITER_ROLES),
      schema: {
        tags: ['assets'],
        summary: 'Bind an asset to another guardian (audited); the old guardian\'s data for it is refused from then on',
        params: Type.Object({ site: Type.String({ minLength: 1 }), asset: Type.String({ minLength: 1 }) }),
        body: Type.Object({
          deviceId: Type.String({ pattern: DEVICE_ID_PATTERN.source, description: 'The guardian that reports the asset from now on' }),
          reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why (kept in the audit log)' }),
        }, { additionalProperties: false }),
        response: {
          200: Type.Object({ site: Type.String(), asset: Type.String(), from: Type.Union([Type.String(), Type.Null()]), to: Type.String() }),
          403: ErrorResponse, 409: ErrorResponse, ...errors,
        },
      },
    }, async (req) => {
      const { site, asset } = req.params;
      const { deviceId, reason } = req.body;
      const move = await assetMoves.move({ site, asset, toDeviceId: deviceId, actor: actorOf(req), reason });
      req.log.info({ site, asset, from: move.from, to: move.to }, 'asset moved to another guardian');
      return move;
    });
  }

  app.get('/devices', {
    schema: {
      tags: ['devices'],
      summary: 'Guardians with their site, online state, last seen time, version and asset count',
      response: { 200: Type.Object({ devices: Type.Array(Device) }), ...errors },
    },
  }, async () => ({ devices: await registry.listDevices() }));
};
