/** TypeBox schemas of the HTTP API; the OpenAPI document is generated from them. */
import { Type } from '@fastify/type-provider-typebox';

export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

const Value = Type.Union([Type.Number(), Type.Null()]);

export const LatestValue = Type.Object({
  ts: Type.Integer({ description: 'Epoch milliseconds' }),
  value: Value,
  quality: Type.Integer({ description: 'OPC quality: 192 good, 64 uncertain, 0 bad' }),
});

export const Site = Type.Object({
  id: Type.String(),
  firstSeen: Type.Integer(),
  areaCount: Type.Integer(),
  assetCount: Type.Integer(),
});

export const Area = Type.Object({ site: Type.String(), id: Type.String(), assetCount: Type.Integer() });

export const Asset = Type.Object({
  site: Type.String(),
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  profile: Type.String(),
  area: Type.String(),
  deviceId: Type.String(),
  updatedAt: Type.Integer(),
});

export const AssetPoint = Type.Object({
  id: Type.Integer({ description: 'Point id used by /points/{pointId}' }),
  name: Type.String(),
  unit: Type.String(),
  kind: Type.String(),
  description: Type.String(),
  latest: Type.Union([LatestValue, Type.Null()]),
});

export const AssetDetail = Type.Object({
  ...Asset.properties,
  points: Type.Array(AssetPoint),
});

export const PointRef = Type.Object({
  id: Type.Integer(), site: Type.String(), asset: Type.String(), name: Type.String(),
});

export const Device = Type.Object({
  id: Type.String(),
  site: Type.String(),
  firstSeen: Type.Integer(),
  lastSeen: Type.Integer(),
  online: Type.Boolean(),
  version: Type.String(),
  assetCount: Type.Integer(),
  clockOffsetMs: Type.Union([Type.Integer(), Type.Null()], {
    description: "The guardian's clock minus the server's when last measured (ms); null until measured",
  }),
});

export const Sample = LatestValue;

export const Bucket = Type.Object({
  ts: Type.Integer({ description: 'Bucket start, epoch milliseconds (aligned to the epoch)' }),
  min: Type.Number(),
  avg: Type.Number(),
  max: Type.Number(),
  count: Type.Integer(),
});

export const PointIdParams = Type.Object({ pointId: Type.Integer({ minimum: 1 }) });

const TimeParam = (what: string) => Type.Optional(Type.String({
  maxLength: 40,
  description: `${what}: epoch ms, ISO 8601 (2026-12-01T08:00:00Z) or relative to now (now, -24h, now-15m)`,
}));

export const SamplesQuery = Type.Object({
  from: TimeParam('Start, inclusive; default: one hour before `to`'),
  to: TimeParam('End, inclusive; default: now'),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000, description: 'Raw samples per point, at most (the earliest)' })),
  // Checked by parseBucket rather than a pattern, so a mistake gets a message a person can act on.
  bucket: Type.Optional(Type.String({
    maxLength: 16,
    description: 'Aggregate into buckets of this width: milliseconds (`60000`) or `30s`, `1m`, `5m`, `1h`, `1d`',
  })),
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], {
    description: 'json (default) or csv; `Accept: text/csv` asks for CSV too',
  })),
  layout: Type.Optional(Type.Union([Type.Literal('rows'), Type.Literal('columns')], {
    description: 'JSON: rows (default, a list of samples) or columns (arrays ts, value, quality — or ts, min, avg, max, count)',
  })),
});

export const SeriesQuery = Type.Object({
  ...SamplesQuery.properties,
  points: Type.Optional(Type.String({ maxLength: 2000, description: 'Point ids, comma-separated (at most 100)' })),
  series: Type.Optional(Type.String({ maxLength: 20_000, description: 'Points by name, `site/asset/point`, comma-separated (at most 100)' })),
});

export const SeriesResponse = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  bucketMs: Type.Optional(Type.Integer()),
  series: Type.Array(Type.Object({
    point: PointRef,
    samples: Type.Optional(Type.Array(Sample)),
    buckets: Type.Optional(Type.Array(Bucket)),
  })),
});

export const SamplesResponse = Type.Object({
  point: PointRef,
  from: Type.Integer(),
  to: Type.Integer(),
  bucketMs: Type.Optional(Type.Integer()),
  samples: Type.Optional(Type.Array(Sample)),
  buckets: Type.Optional(Type.Array(Bucket)),
});
