/** `shellguard asset move`: bind an asset to another guardian (an audited operator action). */
import type { ApiClient } from '../api-client.ts';
import type { Output } from './fleet.ts';

export interface AssetMoveResult {
  site: string;
  asset: string;
  from: string | null;
  to: string;
}

export async function moveAsset(
  client: ApiClient, out: Output, site: string, asset: string, opts: { to: string; reason: string },
): Promise<void> {
  const move = await client.post<AssetMoveResult>(
    `/sites/${encodeURIComponent(site)}/assets/${encodeURIComponent(asset)}/move`, { deviceId: opts.to, reason: opts.reason });
  out.write(`asset ${move.site}/${move.asset} now belongs to guardian ${move.to}${move.from ? ` (was ${move.from})` : ''}; `
    + 'telemetry for it from any other guardian is refused\n');
}
