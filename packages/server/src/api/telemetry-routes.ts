/** Latest values and time-series queries of one point. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TelemetryStore } from '../telemetry/telemetry-store.ts';
import { ApiError } from './api-error.ts';
import { ErrorResponse, LatestValue, PointIdParams, PointRef, SamplesQuery, SamplesResponse } from './schemas.ts';
import { MAX_BUCKETS, parseBucket, resolveRange } from './time-query.ts';

export interface TelemetryRoutesOptions {
  store: TelemetryStore;
  now: () => number;
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };

export const telemetryRoutes: FastifyPluginAsyncTypebox<TelemetryRoutesOptions> = async (app, { store, now }) => {
  function pointOr404(pointId: number) {
    const ref = store.describePoint(pointId);
    if (!ref) throw new ApiError('not_found', `no point with id ${pointId}`);
    return { id: ref.id, site: ref.site, asset: ref.asset, name: ref.point };
  }

  app.get('/points/:pointId/latest', {
    schema: {
      tags: ['telemetry'],
      summary: 'The latest value of a point',
      params: PointIdParams,
      response: { 200: Type.Object({ point: PointRef, latest: Type.Union([LatestValue, Type.Null()]) }), ...errors },
    },
  }, async (req) => {
    const point = pointOr404(req.params.pointId);
    return { point, latest: store.latest(point.id) ?? null };
  });

  app.get('/points/:pointId/samples', {
    schema: {
      tags: ['telemetry'],
      summary: 'Raw samples of a point, or min/avg/max/count per bucket when `bucket` is given',
      params: PointIdParams,
      querystring: SamplesQuery,
      response: { 200: SamplesResponse, ...errors },
    },
  }, async (req) => {
    const point = pointOr404(req.params.pointId);
    const { from, to } = resolveRange(req.query.from, req.query.to, now());
    if (req.query.bucket !== undefined) {
      const bucketMs = parseBucket(req.query.bucket);
      const buckets = Math.floor(to / bucketMs) - Math.floor(from / bucketMs) + 1;
      if (buckets > MAX_BUCKETS) {
        throw new ApiError('bad_request', `the range holds ${buckets} buckets of ${bucketMs} ms; at most ${MAX_BUCKETS} are allowed`);
      }
      return { point, from, to, bucketMs, buckets: store.queryBuckets(point.id, from, to, bucketMs) };
    }
    return { point, from, to, samples: store.querySamples(point.id, from, to, req.query.limit ?? 10_000) };
  });
};
