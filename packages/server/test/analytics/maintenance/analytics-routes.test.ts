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
  await app.register(analyticsRoutes, { prefix: '/api/v1', analytics: { health: () => [], peers: () => [], scores: () => [], maintenance: book } });
  return { app, book };
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

  it('refuses work orders from a viewer', async () => {
    const { app } = await appWith('viewer' as Role);
    const res = await app.inject({ method: 'POST', url: '/api/v1/work-orders', payload: { site: 'dc1', asset: 'P', type: 'reactive', title: 'trip' } });
    expect(res.statusCode).toBe(403);
  });
});
