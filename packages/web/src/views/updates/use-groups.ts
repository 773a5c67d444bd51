/**
 * The device groups, as the fleet knows them (GET /fleet: every claimed guardian names its
 * group; the API has no list of groups of its own), and the deployment states in order.
 */
import { useMemo } from 'react';
import type { DeploymentState, FleetDevice } from '../../app/api-types.ts';
import { useApi } from '../../app/use-api.ts';

export const DEPLOYMENT_STATES_LIST: readonly DeploymentState[] = ['running', 'paused', 'halted', 'aborted', 'completed'];

export interface FleetGroups {
  /** Group ids, sorted. */
  names: string[];
  /** Claimed (not quarantined, not revoked) guardians per group: what a deployment reaches. */
  claimed: Map<string, number>;
  loading: boolean;
}

export function useGroups(): FleetGroups {
  const fleet = useApi<{ devices: FleetDevice[] }>('/fleet', { reloadOn: ['fleet'] });
  const data = fleet.state.data;
  return useMemo(() => {
    const claimed = new Map<string, number>();
    for (const d of data?.devices ?? []) claimed.set(d.group, (claimed.get(d.group) ?? 0) + (d.state === 'claimed' ? 1 : 0));
    return { names: [...claimed.keys()].sort(), claimed, loading: data === undefined };
  }, [data]);
}
