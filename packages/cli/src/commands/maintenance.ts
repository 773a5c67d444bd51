/**
 * `shellguard maintenance ...`: predictive maintenance over the HTTP API — recommendations with
 * their evidence, work orders (planned, predictive, reactive), the reactive-work KPI, and declaring
 * an asset's behaviour normal again after a repair.
 */
import type { Recommendation, WorkOrder } from '@shellguard/server';
import type { ApiClient } from '../api-client.ts';
import { formatTable, isoTime, type Output } from './fleet.ts';

export async function listRecommendations(client: ApiClient, out: Output, opts: { site?: string; status?: string; json?: boolean }): Promise<void> {
  const { recommendations } = await client.get<{ recommendations: Recommendation[] }>('/recommendations', { site: opts.site, status: opts.status });
  if (opts.json) return void out.write(`${JSON.stringify(recommendations, null, 2)}\n`);
  if (recommendations.length === 0) return void out.write('no recommendations\n');
  out.write(formatTable(
    ['ID', 'STATUS', 'ASSET', 'METHOD', 'POINT', 'SINCE', 'NOW vs NORMAL', 'WORK ORDER', 'CHART'],
    recommendations.map((r) => [
      String(r.id), r.status, `${r.site}/${r.asset}`, r.method ?? 'point', r.point, isoTime(r.since), deviation(r),
      r.workOrderId === null ? '-' : String(r.workOrderId), r.chart ?? '-',
    ]),
  ));
}

/** Asset-level: the points that moved most against their learned normal (at most three); point-level: the point against its baseline. */
function deviation(r: Recommendation): string {
  if (r.method === 'asset' && r.moves && r.moves.length > 0) {
    return r.moves.slice(0, 3).map((m) => `${m.point} ${m.z >= 0 ? '+' : ''}${m.z.toFixed(1)} σ (${Math.round(m.share * 100)} %)`).join(', ');
  }
  return `${r.recentMean.toPrecision(4)} vs ${r.baselineMean.toPrecision(4)} (z ${r.zScore.toFixed(1)})`;
}

export async function workOrderFromRecommendation(client: ApiClient, out: Output, id: string, opts: { title?: string }): Promise<void> {
  const { workOrder } = await client.post<{ workOrder: WorkOrder }>(`/recommendations/${encodeURIComponent(id)}/work-order`, opts.title ? { title: opts.title } : {});
  out.write(`work order ${workOrder.id} (${workOrder.type}) opened for ${workOrder.site}/${workOrder.asset}: ${workOrder.title}\n`);
}

export async function createWorkOrder(client: ApiClient, out: Output, opts: { site: string; asset: string; type: string; title: string; point?: string }): Promise<void> {
  const { workOrder } = await client.post<{ workOrder: WorkOrder }>('/work-orders', {
    site: opts.site, asset: opts.asset, type: opts.type, title: opts.title, ...(opts.point ? { point: opts.point } : {}),
  });
  out.write(`work order ${workOrder.id} (${workOrder.type}) opened for ${workOrder.site}/${workOrder.asset}\n`);
}

export async function listWorkOrders(client: ApiClient, out: Output, opts: { site?: string; status?: string; type?: string; json?: boolean }): Promise<void> {
  const { workOrders } = await client.get<{ workOrders: WorkOrder[] }>('/work-orders', { site: opts.site, status: opts.status, type: opts.type });
  if (opts.json) return void out.write(`${JSON.stringify(workOrders, null, 2)}\n`);
  if (workOrders.length === 0) return void out.write('no work orders\n');
  out.write(formatTable(['ID', 'TYPE', 'STATUS', 'ASSET', 'TITLE'], workOrders.map((w) => [String(w.id), w.type, w.status, `${w.site}/${w.asset}`, w.title])));
}

export async function reactiveShare(client: ApiClient, out: Output, opts: { site?: string }): Promise<void> {
  const { periods } = await client.get<{ periods: { site: string; periodStart: number; total: number; reactive: number; share: number }[] }>('/kpi/reactive-share', { site: opts.site });
  if (periods.length === 0) return void out.write('no work orders yet\n');
  out.write(formatTable(['SITE', 'WEEK FROM', 'WORK ORDERS', 'REACTIVE', 'SHARE'],
    periods.map((p) => [p.site, isoTime(p.periodStart), String(p.total), String(p.reactive), `${(p.share * 100).toFixed(0)}%`])));
}

/** After a repair or a changed duty: the asset's models learn its normal again from now (admin or engineer). */
export async function relearnAsset(client: ApiClient, out: Output, site: string, asset: string): Promise<void> {
  const res = await client.post<{ site: string; asset: string; points: number; assetModel: boolean }>('/asset-models/relearn', { site, asset });
  out.write(`${res.site}/${res.asset} declared normal from now: ${res.points} point${res.points === 1 ? '' : 's'} relearn their baselines`
    + `${res.assetModel ? ', and the asset model learns its normal state again' : ''} (recommendations resume once learned)\n`);
}
