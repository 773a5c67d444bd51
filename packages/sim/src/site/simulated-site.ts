/**
 * A whole simulated site on loopback: the physics model, stepped on a timer, one device per asset
 * on its own port, speaking its profile's protocol (Modbus TCP everywhere, or a mixed site over
 * BACnet/IP, SNMP, Redfish and Modbus) and, when asked, one PNS signal tower per panel.
 */
import { isValidId, type EquipmentProfile, type EquipmentProtocol } from '@shellguard/protocol';
import { SimError } from '../errors.ts';
import { siteSecrets, startAssetServer, type AssetAccess, type AssetServer, type SiteWriteAttempt } from './asset-servers.ts';
import { SiteModel } from '../physics/site-model.ts';
import { startVirtualTower, type VirtualTower } from '../tower/virtual-tower.ts';
import type { AssetType, FaultSpec } from '../physics/types.ts';
import { DEFAULT_ASSET_COUNT, planSite, type SiteProtocols } from './layout.ts';
import { loadProfiles } from './profile-catalog.ts';

export interface SimulatedSiteOptions {
  /** Site id (satisfies isValidId). */
  site: string;
  /** Number of assets, mixing all six types (default 32: 4 AHU, 6 CRAH, 4 UPS, 8 PDU, 2 GEN, 8 PANEL). */
  assets?: number;
  /**
   * `modbus` (default): every asset over Modbus TCP. `mixed`: cooling over BACnet/IP, UPSs and
   * PDUs over SNMPv3, rack servers (added to the mix) over Redfish, generators and panels over Modbus.
   */
  protocols?: SiteProtocols;
  /** First port; asset i listens on basePort + i. 0 lets the OS pick each port. */
  basePort: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 1. */
  seed?: number;
  /** Wall-clock interval between physics steps, ms (default 1000). */
  tickMs?: number;
  /** Simulated seconds per wall second (default 1). */
  timeScale?: number;
  faults?: FaultSpec[];
  /** Mean IT load of the site, kW (default 75 kW per PDU). */
  itLoadKw?: number;
  /** Modbus unit id every asset answers to (default 1). */
  unitId?: number;
  /** Profiles by id (default: the built-in profiles). */
  profiles?: Map<string, EquipmentProfile>;
  /** Wall clock, epoch ms (default Date.now). */
  clock?: () => number;
  /** Told about every write request any asset receives. */
  onWrite?: (asset: string, attempt: SiteWriteAttempt) => void;
  /**
   * One virtual signal tower (PNS over TCP) per panel asset: the i-th panel's tower listens on
   * basePort + i (0 lets the OS pick each port). Absent: no towers.
   */
  towers?: { basePort: number };
}

export interface SimulatedAsset {
  id: string;
  name: string;
  type: AssetType;
  /** Equipment profile id. */
  profile: string;
  /** The protocol its device speaks (its profile's). */
  protocol: EquipmentProtocol;
  area: string;
  host: string;
  /** TCP (Modbus, Redfish) or UDP (BACnet/IP, SNMP) port. */
  port: number;
  /** Modbus unit id (Modbus assets). */
  unitId: number;
  /** Device instance, SNMPv3 user, BMC account and certificate: what a guardian needs besides the address. */
  access: AssetAccess;
  /** Where the panel's signal tower listens (panels only, when the site has towers). */
  tower?: { host: string; port: number };
}

export interface SimulatedSite {
  site: string;
  assets: SimulatedAsset[];
  model: SiteModel;
  /** The signal tower of each panel, by asset id (empty unless started with `towers`). */
  towers: Map<string, VirtualTower>;
  /** Write requests received by all assets since start (must stay 0 under Shellguard). */
  writesReceived(): number;
  /** Write requests per asset id (only assets that received any). */
  writesByAsset(): Record<string, number>;
  /** Stops the physics timer and closes every port, towers included. */
  stop(): Promise<void>;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new SimError('invalid_option', `${name} must be a positive number`, { [name]: v });
  return v;
}

export async function startSimulatedSite(options: SimulatedSiteOptions): Promise<SimulatedSite> {
  if (!isValidId(options.site)) throw new SimError('invalid_option', 'site must use only A-Z a-z 0-9 . _ : -', { site: options.site });
  const host = options.host ?? '127.0.0.1';
  const tickMs = positive('tickMs', options.tickMs ?? 1000);
  const timeScale = positive('timeScale', options.timeScale ?? 1);
  const unitId = options.unitId ?? 1;
  const clock = options.clock ?? Date.now;
  const plan = planSite(options.assets ?? DEFAULT_ASSET_COUNT, options.protocols ?? 'modbus');
  if (options.basePort !== 0 && (!Number.isInteger(options.basePort) || options.basePort < 1 || options.basePort + plan.length - 1 > 65535)) {
    throw new SimError('invalid_option', `basePort must be 0 or leave room for ${plan.length} ports below 65536`, { basePort: options.basePort });
  }
  const panels = plan.filter((a) => a.type === 'panel');
  const towerBase = options.towers?.basePort;
  if (towerBase !== undefined) checkTowerPorts(towerBase, panels.length, options.basePort, plan.length);
  const profiles = options.profiles ?? loadProfiles();
  for (const a of plan) {
    if (!profiles.has(a.profile)) throw new SimError('profile_missing', `profile ${a.profile} (for ${a.id}) is not loaded`, { profile: a.profile });
  }

  const wallStart = clock();
  const model = new SiteModel({
    assets: plan.map((a) => ({ id: a.id, type: a.type })),
    seed: options.seed ?? 1,
    startMs: wallStart,
    ...(options.itLoadKw === undefined ? {} : { itLoadKw: options.itLoadKw }),
  });
  for (const f of options.faults ?? []) model.injectFault(f);

  const servers: AssetServer[] = [];
  const access: AssetAccess[] = [];
  const towers = new Map<string, VirtualTower>();
  const writes = new Map<string, number>();
  const secrets = siteSecrets(host);
  try {
    for (const [i, a] of plan.entries()) {
      const started = await startAssetServer({
        asset: a.id, index: i, host,
        port: options.basePort === 0 ? 0 : options.basePort + i,
        unitId,
        profile: profiles.get(a.profile)!,
        values: () => model.values(a.id),
        clock, secrets,
        onWrite: (attempt) => {
          writes.set(a.id, (writes.get(a.id) ?? 0) + 1);
          options.onWrite?.(a.id, attempt);
        },
      });
      servers.push(started.server);
      access.push(started.access);
    }
    if (towerBase !== undefined) {
      for (const [i, a] of panels.entries()) {
        towers.set(a.id, await startVirtualTower({
          host,
          port: towerBase === 0 ? 0 : towerBase + i,
          portSetting: 'towers.basePort (panel i\'s tower takes basePort + i)',
        }));
      }
    }
  } catch (err) {
    await Promise.all([...servers.map((s) => s.close()), ...[...towers.values()].map((t) => t.close())]);
    throw err;
  }

  const timer = setInterval(() => model.step(wallStart + (clock() - wallStart) * timeScale), tickMs);
  let stopped: Promise<void> | undefined;

  return {
    site: options.site,
    assets: plan.map((a, i) => {
      const tower = towers.get(a.id);
      return {
        ...a, protocol: profiles.get(a.profile)!.protocol, host, port: servers[i]!.port, unitId, access: access[i]!,
        ...(tower ? { tower: { host, port: tower.port } } : {}),
      };
    }),
    model,
    towers,
    writesReceived: () => servers.reduce((sum, s) => sum + s.writesReceived(), 0),
    writesByAsset: () => Object.fromEntries(writes),
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer);
        await Promise.all([...servers.map((s) => s.close()), ...[...towers.values()].map((t) => t.close())]);
      })();
      return stopped;
    },
  };
}

/** Tower ports must fit below 65536 and stay clear of the equipment's ports. */
function checkTowerPorts(towerBase: number, towerCount: number, equipmentBase: number, equipmentCount: number): void {
  if (towerBase !== 0 && (!Number.isInteger(towerBase) || towerBase < 1 || towerBase + towerCount - 1 > 65535)) {
    throw new SimError('invalid_option', `towers.basePort must be 0 or leave room for ${towerCount} ports below 65536`, { towerBasePort: towerBase });
  }
  if (towerBase !== 0 && equipmentBase !== 0 && towerCount > 0
    && towerBase < equipmentBase + equipmentCount && equipmentBase < towerBase + towerCount) {
    throw new SimError('invalid_option',
      `towers.basePort ${towerBase} overlaps the equipment ports ${equipmentBase}-${equipmentBase + equipmentCount - 1}`,
      { towerBasePort: towerBase, basePort: equipmentBase });
  }
}
