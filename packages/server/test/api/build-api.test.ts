import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { Quality, type AssetBirth } from '@shellguard/protocol';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import type { SqliteTelemetryStore } from '../../src/telemetry/sqlite-telemetry-store.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { REGISTRY_MIGRATIONS } from '../../src/registry/registry-schema.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import { buildApi } from '../../src/api/build-api.ts';

const T0 = 1_749_999_960_000; // a multiple of one minute
const ahu: AssetBirth = {
  asset: 'AHU-1', name: 'Air handler 1', type: 'ahu', area: 'hall-1', profile: 'generic-ahu',
  points: [
    { name: 'supply_air_temp', unit: 'degC', kind: 'analog', description: 'Supply air temperature' },
    { name: 'fan_running', unit: '', kind: 'binary', description: 'Fan running' },
  ],
};

let db: SqliteDatabase;
let store: SqliteTelemetryStore;
let registry: SqlSiteRegistry;
let app: FastifyInstance;
let base: string;
let admin: string;
let tempId: number;
const logLines: string[] = [];

beforeAll(async () => {
  db = openDatabase(':memory:');
  store = await sqliteTelemetryStore(db);
  const database = openSqliteSqlDatabase(db);
  await runSqlMigrations(database, 'registry', REGISTRY_MIGRATIONS);
  registry = new SqlSiteRegistry(database.db, 'sqlite');
  const tokens = await openTestApiTokens(db);
  admin = (await tokens.ensureAdminToken())!;
  await registry.recordDeviceOnline('dev-1', 'site-a', '0.1.0', T0);
  await registry.recordAssetBirth('dev-1', 'site-a', ahu, T0);
  await registry.recordAssetBirth('dev-2', 'site-b', { ...ahu, asset: 'UPS-1', type: 'ups', area: 'elec-1', points: [] }, T0);
  const samples = Array.from({ length: 120 }, (_, i) => ({
    point: 'supply_air_temp', ts: T0 + i * 1000, value: 18 + (i % 60) / 10, quality: Quality.good,
  }));
  await store.appendBatches([{ deviceId: 'dev-1', site: 'site-a', asset: 'AHU-1', epoch: 'e1', seq: 1, samples: samples.slice(0, 70) }]);
  await store.sealAll(); // part of the data in chunks, the rest in the head
  await store.appendBatches([{ deviceId: 'dev-1', site: 'site-a', asset: 'AHU-1', epoch: 'e1', seq: 2, samples: samples.slice(70) }]);
  tempId = store.findPointId('site-a', 'AHU-1', 'supply_air_temp')!;

  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  app = buildApi({
    store, registry, tokens, logger, now: () => T0 + 200_000, healthCounters: () => ({ samplesStored: 120 }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/v1`;
});

afterAll(async () => {
  await app?.close();
  store.close();
  await registry.close();
  db.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function get(path: string, token: string | null = admin) {
  const res = await fetch(`${base}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('HTTP API authentication', () => {
  it.each(['/sites', '/health', '/openapi.json', '/points/1/samples', '/no/such/route'])(
    'refuses %s without a token with 401 and a JSON error',
    async (path) => {
      const res = await get(path, null);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    },
  );

  it('refuses a wrong token and a malformed header', async () => {
    expect((await get('/sites', 'sgt_0123456789abcdef_' + 'A'.repeat(43))).status).toBe(401);
    expect((await get('/sites', admin.slice(0, -2))).status).toBe(401);
    const res = await fetch(`${base}/sites`, { headers: { authorization: `Basic ${admin}` } });
    expect(res.status).toBe(401);
  });

  it('never writes the token to the log', () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(admin.slice(4));
  });
});

describe('HTTP API routes', () => {
  it('answers with the admin token', async () => {
    const res = await get('/sites');
    expect(res.status).toBe(200);
    expect(res.body.sites.map((s: { id: string }) => s.id)).toEqual(['site-a', 'site-b']);
    expect((await get('/sites/site-a/areas')).body).toEqual({ areas: [{ site: 'site-a', id: 'hall-1', assetCount: 1 }] });
    expect((await get('/sites/nowhere/areas')).status).toBe(404);
  });

  it('serves an OpenAPI document listing the routes', async () => {
    const res = await get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths).sort()).toEqual([
      '/api/v1/assets', '/api/v1/assets/{asset}', '/api/v1/devices', '/api/v1/health', '/api/v1/openapi.json',
      '/api/v1/points/{pointId}/latest', '/api/v1/points/{pointId}/samples', '/api/v1/samples', '/api/v1/sites', '/api/v1/sites/{site}/areas',
      '/api/v1/telemetry/storage',
    ]);
    expect(res.body.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('lists and filters assets, and shows one with its points and latest values', async () => {
    expect((await get('/assets?type=ups')).body.assets.map((a: { id: string }) => a.id)).toEqual(['UPS-1']);
    expect((await get('/assets?site=site-a')).body.assets).toHaveLength(1);
    const res = await get('/assets/AHU-1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ site: 'site-a', id: 'AHU-1', type: 'ahu', deviceId: 'dev-1' });
    const temp = res.body.points.find((p: { name: string }) => p.name === 'supply_air_temp');
    expect(temp).toMatchObject({ id: tempId, unit: 'degC', latest: { ts: T0 + 119_000, value: 18 + 59 / 10, quality: 192 } });
    const fan = res.body.points.find((p: { name: string }) => p.name === 'fan_running');
    expect(fan.latest).toBeNull();
    expect((await get('/assets/NOPE')).status).toBe(404);
  });

  it('returns the latest value of a point', async () => {
    const res = await get(`/points/${tempId}/latest`);
    expect(res.body).toEqual({
      point: { id: tempId, site: 'site-a', asset: 'AHU-1', name: 'supply_air_temp' },
      latest: { ts: T0 + 119_000, value: 23.9, quality: 192 },
    });
    expect((await get('/points/99999/latest')).status).toBe(404);
  });

  it('returns the samples that were appended, across chunks and hot rows', async () => {
    const res = await get(`/points/${tempId}/samples?from=${T0 + 65_000}&to=${T0 + 74_000}`);
    expect(res.status).toBe(200);
    expect(res.body.samples.map((s: { ts: number }) => s.ts - T0)).toEqual(
      [65, 66, 67, 68, 69, 70, 71, 72, 73, 74].map((s) => s * 1000),
    );
    expect(res.body.samples[0]).toEqual({ ts: T0 + 65_000, value: 18.5, quality: 192 });
    const limited = await get(`/points/${tempId}/samples?from=${T0}&to=${T0 + 1e6}&limit=5`);
    expect(limited.body.samples).toHaveLength(5);
    // Default range: the hour before now.
    expect((await get(`/points/${tempId}/samples`)).body.samples).toHaveLength(120);
  });

  it('aggregates samples into buckets', async () => {
    const res = await get(`/points/${tempId}/samples?from=${T0}&to=${T0 + 119_999}&bucket=1m`);
    expect(res.status).toBe(200);
    expect(res.body.bucketMs).toBe(60_000);
    // Each minute holds 18.0, 18.1, ..., 23.9 once.
    expect(res.body.buckets).toHaveLength(2);
    for (const [i, b] of res.body.buckets.entries()) {
      expect(b).toMatchObject({ ts: T0 + i * 60_000, min: 18, max: 23.9, count: 60 });
      expect(b.avg).toBeCloseTo(20.95, 9);
    }
    expect((await get(`/points/${tempId}/samples?from=${T0}&to=${T0 + 119_999}&bucket=60000`)).body.buckets).toHaveLength(2);
  });

  it.each([
    ['from=abc', /from/],
    ['limit=0', /limit/],
    ['limit=1000001', /limit/],
    ['bucket=5x', /bucket/],
    ['bucket=0', /bucket/],
    [`from=${T0 + 10}&to=${T0}`, /from/],
    [`from=0&to=${T0}&bucket=1ms`, /buckets/],
  ])('answers 400 with a clear message for ?%s', async (query, message) => {
    const res = await get(`/points/${tempId}/samples?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(res.body.error.message).toMatch(message);
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('takes times as ISO 8601 or relative to now, as well as epoch milliseconds', async () => {
    // now is T0 + 200 s: -200s is T0; the ISO form of T0 + 65 s is the same instant.
    const iso = new Date(T0 + 65_000).toISOString();
    const a = await get(`/points/${tempId}/samples?from=${encodeURIComponent(iso)}&to=now-126s`);
    expect(a.status).toBe(200);
    expect(a.body.samples.map((x: { ts: number }) => (x.ts - T0) / 1000)).toEqual([65, 66, 67, 68, 69, 70, 71, 72, 73, 74]);
    expect((await get(`/points/${tempId}/samples?from=-200s&to=-199s`)).body.samples.map((x: { ts: number }) => x.ts)).toEqual([T0, T0 + 1000]);
    const bad = await get(`/points/${tempId}/samples?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/ISO 8601.*relative to now/);
  });

  it('answers CSV when asked by Accept or format, with a header and one row per sample', async () => {
    for (const [query, headers] of [['&format=csv', {}], ['', { accept: 'text/csv' }]] as const) {
      const res = await fetch(`${base}/points/${tempId}/samples?from=${T0}&to=${T0 + 2000}${query}`, { headers: { authorization: `Bearer ${admin}`, ...headers } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      const lines = (await res.text()).trim().split('\r\n');
      expect(lines).toEqual([
        'point_id,site,asset,point,time,ts,value,quality',
        ...[0, 1, 2].map((i) => `${tempId},site-a,AHU-1,supply_air_temp,${new Date(T0 + i * 1000).toISOString()},${T0 + i * 1000},${18 + i / 10},192`),
      ]);
    }
  });

  it('serves several points in one request, by id or by name, raw or in buckets', async () => {
    const byName = await get(`/samples?series=site-a/AHU-1/supply_air_temp&from=${T0}&to=${T0 + 1000}`);
    expect(byName.status).toBe(200);
    expect(byName.body).toEqual({
      from: T0, to: T0 + 1000,
      series: [{ point: { id: tempId, site: 'site-a', asset: 'AHU-1', name: 'supply_air_temp' }, samples: [
        { ts: T0, value: 18, quality: 192 }, { ts: T0 + 1000, value: 18.1, quality: 192 },
      ] }],
    });
    const twice = await get(`/samples?points=${tempId},${tempId}&from=${T0}&to=${T0 + 119_999}&bucket=1m`);
    expect(twice.body.series).toHaveLength(2);
    expect(twice.body.series[1].buckets).toHaveLength(2);
    expect((await get('/samples?series=site-a/AHU-1/nope')).status).toBe(404);
    const none = await get('/samples');
    expect(none.status).toBe(400);
    expect(none.body.error.message).toMatch(/points=/);
  });

  it('reports the store\'s disk use and bytes per sample', async () => {
    const res = await get('/telemetry/storage');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ chunkSamples: 70, headSamples: 50 });
    expect(res.body.sites[0]).toMatchObject({ site: 'site-a', chunkSamples: 70 });
    expect(res.body.bytesPerSample).toBeGreaterThan(0);
  });

  it('answers 400 for a non-numeric point id', async () => {
    const res = await get('/points/abc/latest');
    expect(res.status).toBe(400);
  });

  it('lists devices with their asset count and reports health counters', async () => {
    const devices = (await get('/devices')).body.devices;
    expect(devices.find((d: { id: string }) => d.id === 'dev-1')).toMatchObject({
      site: 'site-a', online: true, version: '0.1.0', assetCount: 1,
    });
    expect((await get('/health')).body).toEqual({ status: 'ok', time: T0 + 200_000, ingest: { samplesStored: 120 } });
  });
});
