import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Role } from '../../../src/auth/roles.ts';
import { openSqliteSqlDatabase } from '../../../src/db/sqlite-sql-database.ts';
import { openBook } from './maintenance-fixture.ts';
import { analyticsRoutes } from '../../../src/api/analytics-routes.ts';
import { apiErrorHandler } from '../../../src/api/error-handler.ts';

async function appWith(role: Role) {
  const book = await openBook(openSqliteSqlDatabase(':memory:'), { now: () => Date.UTC(2025, 5, 3) });
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onRequest', async (req) => { (req as unknown as { principal: unknown }).principal = { kind: 'token', id: 't1', name: 't1', role }; });
  app.setErrorHandler(apiErrorHandler);
  /** What the route asked live analytics to relearn (the known asset is dc1/AHU-1). */
  const relearned: Array<{ site: string; asset: string; actor: string }> = [];
  const relearn = async (site: string, asset: string, actor: string) => {
    if (site !== 'dc1' || asset !== 'AHU-1') return undefined;
    relearned.push({ site, asset, actor });
    return { points: 4, assetModel: true };
  };
  await app.register(analyticsRoutes, { prefix: '/api/v1', analytics: { health: () => [], peers: () => [], scores: () => [], maintenance: book, relearn } });
  return { app, book, relearned };
}

describe('analyticsRoutes', () => {
  it('turns a recommendation into a predictive work order and reports the reactive share', async () => {
    const { app, book } = await appWith('technician');
    const rec = await book.recommend({ site: 'dc1', asset: 'P', point: 'vib', since: 0, at: 1, recentMean: 3, baselineMean: 2, baselineStd: 0.1, zScore: 10, score: 0.9 });
    const made = await app.inject({ method: 'POST', url: `/api/v1/recommendations/${rec.id}/work-order` });
    expect(made.statusCode).toBe(201);
    expect(made.json().workOrder).toMatchObject({ type: 'predictive', createdBy: 'token:t1' });
    expect((await app.inject({ method: 'POST', url: `/api/v1/recommendations/${rec.id}/work-order` })).statusCode).toBe(409);
    const missing = await app.inject({ method: "POST", url: "/api/v1/recommendations/99/work-order" });
    expect(missing.statusCode, missing.body).toBe(404);
    const reactive = await app.inject({ method: 'POST', url: '/api/v1/work-orders', payload: { site: 'dc1', asset: 'P', type: 'reactive', title: 'trip' } });
    expect(reactive.statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/api/v1/work-orders', payload: { site: 'dc1', asset: 'P', type: 'predictive', title: 'x' } })).statusCode).toBe(400);
    const kpi = await app.inject({ method: 'GET', url: '/api/v1/kpi/reactive-share?site=dc1' });
    expect(kpi.json().periods).toEqual([expect.objectContaining({ site: 'dc1', total: 2, reactive: 1, share: 0.5 })]);
  });

  it('declares an asset normal again for an engineer, says when there is no such asset, and refuses others', async () => {
    const { app, relearned } = await appWith('engineer');
    const done = await app.inject({ method: 'POST', url: '/api/v1/asset-models/relearn', payload: { site: 'dc1', asset: 'AHU-1' } });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toEqual({ site: 'dc1', asset: 'AHU-1', points: 4, assetModel: true });
    expect(relearned).toEqual([{ site: 'dc1', asset: 'AHU-1', actor: 'token:t1' }]);
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/asset-models/relearn', payload: { site: 'dc1', asset: 'nope' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.message).toMatch(/no point of asset dc1\/nope/);
    const malformed = await app.inject({ method: 'POST', url: '/api/v1/asset-models/relearn', payload: { site: 'dc1' } });
    expect(malformed.statusCode).toBe(400);
    for (const role of ['technician', 'manager', 'viewer'] as Role[]) {
      const other = await appWith(role);
      const res = await other.app.inject({ method: 'POST', url: '/api/v1/asset-models/relearn', payload: { site: 'dc1', asset: 'AHU-1' } });
      expect(res.statusCode, role).toBe(403);
      expect(other.relearned).toEqual([]);
    }
    expect(relearned).toHaveLength(1);
  });

  it('refuses work orders from a viewer', async () => {
    const { app } = await appWith('viewer' as Role);
    const res = await app.inject({ method: 'POST', url: '/api/v1/work-orders', payload: { site: 'dc1', asset: 'P', type: 'reactive', title: 'trip' } });
    expect(res.statusCode).toBe(403);
  });
});
