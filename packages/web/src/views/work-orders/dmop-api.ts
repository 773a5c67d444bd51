/**
 * Where the DMOP work orders live in the API (procedure-routes.ts): under /dmop, because
 * /work-orders is the maintenance book's (analytics-routes.ts). The dashboard's own pages stay
 * /work-orders and /work-orders/:id.
 */
import { query } from '../../app/api-client.ts';

export const DMOP_WORK_ORDERS = '/dmop/work-orders';

export const dmopApi = {
  list: (filter: { site?: string; active?: boolean }) => `${DMOP_WORK_ORDERS}${query(filter)}`,
  create: () => DMOP_WORK_ORDERS,
  detail: (id: number) => `${DMOP_WORK_ORDERS}/${id}`,
  action: (id: number, action: 'approve' | 'release' | 'start' | 'abort') => `${DMOP_WORK_ORDERS}/${id}/${action}`,
  /** `step` is 1-based. */
  confirm: (id: number, step: number) => `${DMOP_WORK_ORDERS}/${id}/steps/${step}/confirm`,
  acknowledgeDeviation: (deviationId: number) => `/dmop/deviations/${deviationId}/acknowledge`,
};

/** The dashboard page of a work order. */
export const workOrderPage = (id: number) => `/work-orders/${id}`;
