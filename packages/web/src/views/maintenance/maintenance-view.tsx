/**
 * Maintenance: recommendations with their evidence, work orders, the reactive-work KPI and fleet
 * peers. Recommendations and work orders stay live on `recommendations` events; an action here
 * also re-reads the work orders and the KPI it changes.
 */
import { useCallback } from 'react';
import type { Asset, ReactiveShare, WorkOrder } from '../../app/api-types.ts';
import { useRole } from '../../app/auth.tsx';
import { NotAllowed, PageHeader } from '../../app/components/page.tsx';
import { can, rolesThatCan } from '../../app/permissions.ts';
import { useApi, useNow } from '../../app/use-api.ts';
import { FleetPeers } from './fleet-peers.tsx';
import { ReactiveShareChart } from './reactive-share.tsx';
import { Recommendations } from './recommendations.tsx';
import { WorkOrders } from './work-orders.tsx';

export default function MaintenanceView() {
  const role = useRole();
  const now = useNow(10_000);
  const mayWrite = can(role, 'work-order.create');
  const orders = useApi<{ workOrders: WorkOrder[] }>('/work-orders', { reloadOn: ['recommendations'] });
  const kpi = useApi<{ periods: ReactiveShare[] }>('/kpi/reactive-share', { reloadOn: ['recommendations'] });
  const assets = useApi<{ assets: Asset[] }>('/assets');
  const { reload: reloadOrders } = orders;
  const { reload: reloadKpi } = kpi;

  const workOrdersChanged = useCallback(() => {
    reloadOrders();
    reloadKpi();
  }, [reloadOrders, reloadKpi]);

  return (
    <>
      <PageHeader title="Maintenance" subtitle="What the analytics recommend, the work it became, and how much work is still reactive." />
      {!mayWrite ? <NotAllowed action="create or complete work orders" roles={rolesThatCan('work-order.create')} /> : null}
      <Recommendations now={now} onWorkOrderCreated={workOrdersChanged} />
      <WorkOrders orders={orders} assets={assets.state.data?.assets ?? []} now={now} mayWrite={mayWrite} onChanged={reloadKpi} />
      <ReactiveShareChart kpi={kpi} />
      <FleetPeers assets={assets} />
    </>
  );
}
