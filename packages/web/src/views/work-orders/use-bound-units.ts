/**
 * The units of the points of a work order's bound assets (GET /assets/:asset, once per asset),
 * keyed by template role, so a reading shows "0.4 A" rather than "0.4". An asset that cannot be
 * read just shows its values without units.
 */
import { useEffect, useState } from 'react';
import { api, isAbort, query } from '../../app/api-client.ts';
import type { AssetDetail } from '../../app/api-types.ts';
import { unitKey, type Units } from './procedure-reading.ts';

const EMPTY: Units = new Map();

export function useBoundUnits(site: string | undefined, bindings: Record<string, string> | undefined): Units {
  const key = site && bindings ? JSON.stringify([site, Object.entries(bindings).sort()]) : '';
  const [units, setUnits] = useState<{ key: string; units: Units }>({ key: '', units: EMPTY });
  useEffect(() => {
    if (key === '') return undefined;
    const [s, entries] = JSON.parse(key) as [string, [string, string][]];
    const controller = new AbortController();
    void Promise.all(entries.map(async ([role, asset]) => {
      try {
        const detail = await api.get<AssetDetail>(`/assets/${encodeURIComponent(asset)}${query({ site: s })}`, { signal: controller.signal });
        return detail.points.map((p) => [unitKey(role, p.name), p.unit] as const);
      } catch (err) {
        if (!isAbort(err)) console.debug(`no units for ${asset}`, err);
        return [];
      }
    })).then((lists) => {
      if (!controller.signal.aborted) setUnits({ key, units: new Map(lists.flat()) });
    });
    return () => controller.abort();
  }, [key]);
  return units.key === key ? units.units : EMPTY;
}
