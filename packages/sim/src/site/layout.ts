/**
 * Which assets a simulated site has, what they are called and where they stand.
 */
import { SimError } from '../errors.ts';
import type { AssetType } from '../physics/types.ts';

export interface PlannedAsset {
  /** e.g. `AHU-01`; satisfies `isValidId`. */
  id: string;
  name: string;
  type: AssetType;
  /** Equipment profile id, e.g. `ahu-generic`. */
  profile: string;
  /** e.g. `hall-1`, `elec-room-1`. */
  area: string;
}

/**
 * Which protocols a site speaks: `modbus` (every asset over Modbus TCP), or `mixed`, as a real
 * site does: air handlers and CRAHs over BACnet/IP, UPSs and PDUs over SNMP, rack servers over
 * Redfish, generators and panels over Modbus.
 */
export type SiteProtocols = 'modbus' | 'mixed';

/** The mix of a 32-asset site; other sizes scale it (largest remainder). */
const MIX: ReadonlyArray<{ type: AssetType; count: number; prefix: string; name: string }> = [
  { type: 'ahu', count: 4, prefix: 'AHU', name: 'Air handling unit' },
  { type: 'crah', count: 6, prefix: 'CRAH', name: 'Computer room air handler' },
  { type: 'ups', count: 4, prefix: 'UPS', name: 'UPS' },
  { type: 'pdu', count: 8, prefix: 'PDU', name: 'Power distribution unit' },
  { type: 'generator', count: 2, prefix: 'GEN', name: 'Generator' },
  { type: 'panel', count: 8, prefix: 'PANEL', name: 'Electrical panel' },
];
const MIX_TOTAL = MIX.reduce((s, m) => s + m.count, 0);
/** A mixed site also has rack servers (read over Redfish): four in 36. */
const MIXED_MIX: typeof MIX = [...MIX, { type: 'server', count: 4, prefix: 'SRV', name: 'Rack server' }];

export const DEFAULT_ASSET_COUNT = MIX_TOTAL;
export const MAX_ASSET_COUNT = 999;

export const PROFILE_FOR_TYPE: Record<AssetType, string> = {
  ahu: 'ahu-generic',
  crah: 'crah-generic',
  ups: 'ups-generic',
  pdu: 'pdu-generic',
  generator: 'generator-generic',
  panel: 'panel-generic',
  server: 'server-redfish',
};

/** The profiles of a mixed site: each type over the protocol real equipment of its kind speaks. */
export const MIXED_PROFILE_FOR_TYPE: Record<AssetType, string | readonly string[]> = {
  ahu: 'ahu-bacnet',
  crah: 'crah-bacnet',
  ups: 'ups-rfc1628',
  // Alternating between two vendors' PDU MIBs, as a site with two PDU makes would.
  pdu: ['pdu-apc-rpdu2', 'pdu-raritan-px2'],
  generator: 'generator-generic',
  panel: 'panel-generic',
  // Half the servers serve the newer EnvironmentMetrics schemas, half only the legacy Power/Thermal ones.
  server: ['server-redfish', 'server-redfish-legacy'],
};

function countsFor(mix: typeof MIX, total: number): number[] {
  const mixTotal = mix.reduce((s, m) => s + m.count, 0);
  const exact = mix.map((m) => (m.count * total) / mixTotal);
  const counts = exact.map(Math.floor);
  let left = total - counts.reduce((s, c) => s + c, 0);
  const byRemainder = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left <= 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
    left--;
  }
  // From six assets up every type appears at least once: take from the most numerous.
  if (total >= mix.length) {
    counts.forEach((c, i) => {
      if (c > 0) return;
      const donor = counts.indexOf(Math.max(...counts));
      counts[donor] = (counts[donor] ?? 0) - 1;
      counts[i] = 1;
    });
  }
  return counts;
}

/** Areas: cooling and PDUs in data halls, UPSs and panels in electrical rooms, generators in the yard. */
function areaFor(type: AssetType, index: number, count: number): string {
  const half = index < Math.ceil(count / 2) ? 1 : 2;
  switch (type) {
    case 'ahu': case 'crah': case 'pdu': return `hall-${half}`;
    case 'ups': case 'panel': return `elec-room-${half}`;
    case 'generator': return 'generator-yard';
    case 'server': return `hall-${half}`;
  }
}

/**
 * Plans a site of `total` assets mixing all six types, and rack servers on a mixed site
 * (deterministic, no randomness).
 */
export function planSite(total: number = DEFAULT_ASSET_COUNT, protocols: SiteProtocols = 'modbus'): PlannedAsset[] {
  if (!Number.isInteger(total) || total < 1 || total > MAX_ASSET_COUNT) {
    throw new SimError('invalid_option', `assets must be an integer 1..${MAX_ASSET_COUNT}`, { assets: total });
  }
  const mix = protocols === 'mixed' ? MIXED_MIX : MIX;
  const counts = countsFor(mix, total);
  const out: PlannedAsset[] = [];
  mix.forEach((m, t) => {
    const n = counts[t] ?? 0;
    const width = Math.max(2, String(n).length);
    for (let i = 0; i < n; i++) {
      const num = String(i + 1).padStart(width, '0');
      const mixed = MIXED_PROFILE_FOR_TYPE[m.type];
      const profile = protocols === 'modbus' ? PROFILE_FOR_TYPE[m.type] : typeof mixed === 'string' ? mixed : mixed[i % mixed.length]!;
      out.push({ id: `${m.prefix}-${num}`, name: `${m.name} ${i + 1}`, type: m.type, profile, area: areaFor(m.type, i, n) });
    }
  });
  return out;
}
