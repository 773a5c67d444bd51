import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recommendation, WorkOrder } from '@shellguard/server';
import { createApiClient, type ApiClient } from '../../src/api-client.ts';
import { createWorkOrder, listRecommendations, reactiveShare, relearnAsset, workOrderFromRecommendation } from '../../src/commands/maintenance.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-api-server.ts';

class Buffered {
  text = '';
  write(s: string) { this.text += s; }
}

const AT = Date.UTC(2026, 10, 23, 6, 0, 0);
const REC: Recommendation = {
  id: 3, status: 'open', site: 'dc1', asset: 'AHU-1', point: 'fan_vibration', since: AT, at: AT + 1_800_000,
  recentMean: 2.71, baselineMean: 2.02, baselineStd: 0.08, zScore: 8.6, score: 0.62,
  chart: '/api/v1/points/12/samples?from=1&to=2&bucket=60000', workOrderId: null, createdAt: AT + 1_800_000,
  method: 'point', moves: null,
};
const WO: WorkOrder = {
  id: 9, site: 'dc1', asset: 'AHU-1', point: 'fan_vibration', type: 'predictive', status: 'open',
  title: 'Replace supply fan bearing', recommendationId: 3, createdBy: 'token:abc', createdAt: AT, completedAt: null,
} as unknown as WorkOrder;

let api: FakeApiServer;
let client: ApiClient;
beforeAll(async () => {
  api = await startFakeApiServer();
  client = createApiClient({ server: api.url, token: 'sgt_test_secret', ca: api.caFile });
});
afterAll(async () => { await api.close(); });

describe('shellguard maintenance', () => {
  it('lists recommendations with how far from normal and the chart link', async () => {
    api.respond = () => ({ status: 200, body: { recommendations: [REC] } });
    const out = new Buffered();
    await listRecommendations(client, out, { site: 'dc1' });
    expect(api.requests.at(-1)?.url).toBe('/api/v1/recommendations?site=dc1');
    expect(out.text).toContain('dc1/AHU-1');
    expect(out.text).toContain('2.710 vs 2.020 (z 8.6)');
    expect(out.text).toContain('/api/v1/points/12/samples');
  });

  it('says which points moved together for an asset-level recommendation', async () => {
    const moves = [
      { point: 'chw_valve_position', z: 2.4, value: 73.7, normalMean: 65.1, normalStd: 3.6, share: 0.62 },
      { point: 'return_air_temp', z: -0.2, value: 28.6, normalMean: 28.63, normalStd: 0.28, share: 0.11 },
    ];
    api.respond = () => ({ status: 200, body: { recommendations: [{ ...REC, id: 4, point: 'chw_valve_position', method: 'asset', moves }] } });
    const out = new Buffered();
    await listRecommendations(client, out, {});
    expect(out.text).toMatch(/dc1\/AHU-1\s+asset\s+chw_valve_position/);
    expect(out.text).toContain('chw_valve_position +2.4 σ (62 %), return_air_temp -0.2 σ (11 %)');
  });

  it('declares an asset normal again after a repair, and passes on the server\'s refusal', async () => {
    api.respond = () => ({ status: 200, body: { site: 'dc1', asset: 'AHU-1', points: 9, assetModel: true } });
    const out = new Buffered();
    await relearnAsset(client, out, 'dc1', 'AHU-1');
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/v1/asset-models/relearn', body: { site: 'dc1', asset: 'AHU-1' } });
    expect(out.text).toContain('dc1/AHU-1 declared normal from now: 9 points relearn their baselines, and the asset model learns its normal state again');
    api.respond = () => ({ status: 404, body: { error: { code: 'not_found', message: 'live analytics has seen no point of asset dc1/X; nothing to relearn' } } });
    await expect(relearnAsset(client, new Buffered(), 'dc1', 'X')).rejects.toThrow(/no point of asset dc1\/X/);
  });

  it('turns a recommendation into a predictive work order and opens reactive ones', async () => {
    api.respond = () => ({ status: 201, body: { workOrder: WO } });
    const out = new Buffered();
    await workOrderFromRecommendation(client, out, '3', { title: 'Replace supply fan bearing' });
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/v1/recommendations/3/work-order', body: { title: 'Replace supply fan bearing' } });
    expect(out.text).toContain('work order 9 (predictive)');
    await createWorkOrder(client, out, { site: 'dc1', asset: 'AHU-1', type: 'reactive', title: 'Belt snapped' });
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/v1/work-orders', body: { type: 'reactive', title: 'Belt snapped' } });
  });

  it('prints the reactive share per site and week as a percentage', async () => {
    api.respond = () => ({ status: 200, body: { periods: [{ site: 'dc1', periodStart: AT, total: 20, reactive: 3, share: 0.15 }] } });
    const out = new Buffered();
    await reactiveShare(client, out, {});
    expect(out.text).toMatch(/dc1\s+2026-11-23T06:00:00Z\s+20\s+3\s+15%/);
  });
});
