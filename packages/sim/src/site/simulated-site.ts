/**
 * A whole simulated site on loopback: the physics model, stepped on a timer, and one Modbus TCP
 * server per asset on its own port.
 */
import { isValidId, loadProfiles, type EquipmentProfile } from '@shellguard/protocol';
import { SimError } from '../errors.ts';
import { EquipmentServer, type WriteAttempt } from '../modbus/equipment-server.ts';
import { SiteModel } from '../physics/site-model.ts';
import type { AssetType, FaultSpec } from '../physics/types.ts';
import { DEFAULT_ASSET_COUNT, planSite } from './layout.ts';

export interface SimulatedSiteOptions {
  /** Site id (satisfies isValidId). */
  site: string;
  /** Number of assets, mixing all six types (default 32: 4 AHU, 6 CRAH, 4 UPS, 8 PDU, 2 GEN, 8 PANEL). */
  assets?: number;
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
  onWrite?: (asset: string, attempt: WriteAttempt) => void;
}

export interface SimulatedAsset {
  id: string;
  name: string;
  type: AssetType;
  /** Equipment profile id. */
  profile: string;
  area: string;
  host: string;
  port: number;
  unitId: number;
}

export interface SimulatedSite {
  site: string;
  assets: SimulatedAsset[];
  model: SiteModel;
  /** Write requests received by all assets since start (must stay 0 under Shellguard). */
  writesReceived(): number;
  /** Write requests per asset id (only assets that received any). */
  writesByAsset(): Record<string, number>;
  /** Stops the physics timer and closes every port. */
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
  const plan = planSite(options.assets ?? DEFAULT_ASSET_COUNT);
  if (options.basePort !== 0 && (!Number.isInteger(options.basePort) || options.basePort < 1 || options.basePort + plan.length - 1 > 65535)) {
    throw new SimError('invalid_option', `basePort must be 0 or leave room for ${plan.length} ports below 65536`, { basePort: options.basePort });
  }
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

  const servers: EquipmentServer[] = [];
  const writes = new Map<string, number>();
  try {
    for (const [i, a] of plan.entries()) {
      servers.push(await EquipmentServer.start({
        host,
        port: options.basePort === 0 ? 0 : options.basePort + i,
        unitId,
        profile: profiles.get(a.profile)!,
        values: () => model.values(a.id),
        clock,
        onWrite: (attempt) => {
          writes.set(a.id, (writes.get(a.id) ?? 0) + 1);
          options.onWrite?.(a.id, attempt);
        },
      }));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }

  const timer = setInterval(() => model.step(wallStart + (clock() - wallStart) * timeScale), tickMs);
  let stopped: Promise<void> | undefined;

  return {
    site: options.site,
    assets: plan.map((a, i) => ({ ...a, host, port: servers[i]!.port, unitId })),
    model,
    writesReceived: () => servers.reduce((sum, s) => sum + s.writesReceived(), 0),
    writesByAsset: () => Object.fromEntries(writes),
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer);
        await Promise.all(servers.map((s) => s.close()));
      })();
      return stopped;
    },
  };
}
