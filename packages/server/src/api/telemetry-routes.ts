/**
 * Latest values, time-series reads and the store's disk use. Series are streamed as the store
 * encodes them (JSON or CSV, in a read worker), so a day of many points never sits whole in
 * memory and never holds up ingest.
 */
import { Readable } from 'node:stream';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PointRef as StorePointRef, SeriesExport, TelemetryStore } from '../telemetry/telemetry-store.ts';
import { ApiError } from './api-error.ts';
import {
  ErrorResponse, LatestValue, PointIdParams, PointRef, SamplesQuery, SamplesResponse, SeriesQuery, SeriesResponse,
} from './schemas.ts';
import { MAX_BUCKETS, parseBucket, resolveRange } from './time-query.ts';

export interface TelemetryRoutesOptions {
  store: TelemetryStore;
  now: () => number;
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const MAX_POINTS_PER_REQUEST = 100;

const RetentionSchema = Type.Object({ rawMs: Type.Integer(), minuteMs: Type.Integer(), hourMs: Type.Integer() });
const StorageResponse = Type.Object({
  fileBytes: Type.Integer({ description: 'Pages of the database file (in use and free)' }),
  freeBytes: Type.Integer({ description: 'Free pages: reused before the file grows, given back by incremental vacuum' }),
  chunkBytes: Type.Integer(),
  chunkSamples: Type.Integer(),
  bytesPerSample: Type.Union([Type.Number(), Type.Null()]),
  headSamples: Type.Integer({ description: 'Recent samples not yet sealed into chunks' }),
  batchRows: Type.Integer({ description: 'Rows of the de-duplication table (pruned past the ingest age limit)' }),
  sites: Type.Array(Type.Object({
    site: Type.String(),
    retention: RetentionSchema,
    chunkBytes: Type.Integer(),
    chunkSamples: Type.Integer(),
    samplesPerSecond: Type.Number(),
    projectedRawBytes: Type.Integer({ description: 'Raw chunk bytes once the raw retention is full, at the last hour\'s rate' }),
  })),
});

function wantsCsv(request: FastifyRequest, format: 'json' | 'csv' | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  const accept = request.headers.accept ?? '';
  return /\btext\/csv\b/.test(accept) && !/\bapplication\/json\b/.test(accept);
}

function refOf(p: StorePointRef) {
  return { id: p.id, site: p.site, asset: p.asset, name: p.point };
}

export const telemetryRoutes: FastifyPluginAsyncTypebox<TelemetryRoutesOptions> = async (app, { store, now }) => {
  function pointOr404(pointId: number): StorePointRef {
    const ref = store.describePoint(pointId);
    if (!ref) throw new ApiError('not_found', `no point with id ${pointId}`);
    return ref;
  }

  /** Checks the range and buckets, then streams the store's encoded answer. */
  async function sendSeries(
    request: FastifyRequest, reply: FastifyReply, points: StorePointRef[],
    query: { from?: string; to?: string; bucket?: string; limit?: number; format?: 'json' | 'csv'; layout?: 'rows' | 'columns' }, shape: SeriesExport['shape'],
  ): Promise<FastifyReply> {
    const { from, to } = resolveRange(query.from, query.to, now());
    const exportRequest: SeriesExport = {
      points, from, to, limit: query.limit ?? 10_000, format: wantsCsv(request, query.format) ? 'csv' : 'json', shape,
      ...(query.layout ? { layout: query.layout } : {}),
    };
    if (query.bucket !== undefined) {
      const bucketMs = parseBucket(query.bucket);
      const buckets = Math.floor(to / bucketMs) - Math.floor(from / bucketMs) + 1;
      if (buckets > MAX_BUCKETS) {
        throw new ApiError('bad_request', `the range holds ${buckets} buckets of ${bucketMs} ms; at most ${MAX_BUCKETS} are allowed`);
      }
      exportRequest.bucketMs = bucketMs;
    }
    const pieces = store.exportSeries(exportRequest)[Symbol.asyncIterator]();
    // The first piece before the headers: a failed read still gets a proper error status.
    const first = await pieces.next();
    const body = Readable.from((async function* () {
      if (!first.done) yield Buffer.from(first.value.buffer, first.value.byteOffset, first.value.byteLength);
      for (;;) {
        const r = await pieces.next();
        if (r.done) return;
        yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      }
    })());
    body.on('close', () => { void pieces.return?.(undefined); });
    reply.type(exportRequest.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
    if (exportRequest.format === 'csv') {
      reply.header('content-disposition', `attachment; filename="shellguard-${new Date(from).toISOString().slice(0, 10)}.csv"`);
    }
    return reply.send(body);
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
    return { point: refOf(point), latest: store.latest(point.id) ?? null };
  });

  app.get('/points/:pointId/samples', {
    schema: {
      tags: ['telemetry'],
      summary: 'Raw samples of a point, or min/avg/max/count per bucket when `bucket` is given (JSON or CSV, streamed)',
      params: PointIdParams,
      querystring: SamplesQuery,
      response: { 200: SamplesResponse, ...errors },
    },
  }, async (req, reply) => sendSeries(req, reply, [pointOr404(req.params.pointId)], req.query, 'single'));

  app.get('/samples', {
    schema: {
      tags: ['telemetry'],
      summary: 'Several points in one request, by id (`points=1,2`) or name (`series=site-1/AHU-01/supply_air_temp`); raw or bucketed, JSON or CSV, streamed',
      querystring: SeriesQuery,
      response: { 200: SeriesResponse, ...errors },
    },
  }, async (req, reply) => {
    const points: StorePointRef[] = [];
    for (const id of (req.query.points ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!/^[1-9][0-9]{0,15}$/.test(id)) throw new ApiError('bad_request', `points: "${id}" is not a point id`);
      points.push(pointOr404(Number(id)));
    }
    for (const name of (req.query.series ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const parts = name.split('/');
      if (parts.length !== 3 || parts.some((p) => p === '')) throw new ApiError('bad_request', `series: "${name}" is not site/asset/point`);
      const id = store.findPointId(parts[0]!, parts[1]!, parts[2]!);
      if (id === undefined) throw new ApiError('not_found', `no point ${name}`);
      points.push(pointOr404(id));
    }
    if (points.length === 0) throw new ApiError('bad_request', 'name the points: points=<id>,<id> or series=<site>/<asset>/<point>,...');
    if (points.length > MAX_POINTS_PER_REQUEST) throw new ApiError('bad_request', `at most ${MAX_POINTS_PER_REQUEST} points per request, got ${points.length}`);
    return sendSeries(req, reply, points, req.query, 'series');
  });

  app.get('/telemetry/storage', {
    schema: {
      tags: ['telemetry'],
      summary: 'Disk use of the telemetry store, bytes per sample, and per site the rate and the projected size at its retention',
      response: { 200: StorageResponse, 401: ErrorResponse },
    },
  }, async () => {
    const r = await store.storageReport();
    return { ...r, bytesPerSample: Number.isFinite(r.bytesPerSample) ? r.bytesPerSample : null };
  });
};
