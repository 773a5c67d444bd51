/**
 * The Redfish driver: reads a server's chassis through its BMC, read-only (request.ts), one GET
 * per distinct resource of the point set, each point a JSON pointer into its resource.
 */
import { readFileSync } from 'node:fs';
import { Quality, ShellguardError, type RedfishPoint, type RedfishProfile, type Sample } from '@shellguard/protocol';
import { ConfigError, type EquipmentConfig } from '../../config/config.ts';
import { driverClosed, pointsOfSet, type DriverContext, type EquipmentDriver, type PointSet, type PollFailure, type PollResult } from '../driver.ts';
import { RedfishError } from './errors.ts';
import { pointValue } from './point-value.ts';
import { RedfishClient, type RedfishClientOptions } from './redfish-client.ts';

/** Resources read at once: as many as the client keeps sockets, so none waits for one. */
const CONCURRENCY = 2;

/** A point's resource as a URL path: under the chassis, or absolute; `{chassis}` filled in. */
export function resourcePath(resource: string, chassis: string): string {
  const filled = resource.replace(/\{chassis\}/g, encodeURIComponent(chassis));
  return filled.startsWith('/redfish/v1/') ? filled : `/redfish/v1/Chassis/${encodeURIComponent(chassis)}/${filled}`;
}

function readSettingFile(asset: string, field: string, file: string): string {
  try {
    // A trailing newline is the editor's, not the password's.
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(`equipment ${asset}: cannot read redfish.${field} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); create it, readable by the guardian only`, { asset, field, file });
  }
}

/** The client for an asset's `redfish:` section: the password and CA are read from their files here. */
export function redfishClientFor(e: EquipmentConfig, extra: Partial<Pick<RedfishClientOptions, 'onTlsKeylog' | 'maxResponseBytes' | 'logger'>> = {}): RedfishClient {
  const r = e.redfish;
  if (!r) throw new ConfigError(`equipment ${e.asset}: a redfish profile needs a redfish section`, { asset: e.asset, field: 'redfish' });
  const tls = r.tls.caFile !== undefined
    ? { ca: readSettingFile(e.asset, 'tls.caFile', r.tls.caFile), ...(r.tls.servername ? { servername: r.tls.servername } : {}) }
    : { pinSha256: r.tls.pinSha256!, ...(r.tls.servername ? { servername: r.tls.servername } : {}) };
  return new RedfishClient({
    host: e.host, port: e.port, timeoutMs: e.timeoutMs, tls,
    auth: r.auth, username: r.username, password: readSettingFile(e.asset, 'passwordFile', r.passwordFile), ...extra,
  });
}

function asShellguardError(err: unknown): ShellguardError {
  return err instanceof ShellguardError ? err : new RedfishError('redfish_connection_failed', err instanceof Error ? err.message : String(err));
}

export class RedfishDriver implements EquipmentDriver {
  readonly protocol = 'redfish' as const;
  readonly #client: RedfishClient;
  readonly #profile: RedfishProfile;
  readonly #chassis: string;
  readonly #now: () => number;
  readonly #asset: string;
  #closed = false;

  constructor(ctx: DriverContext<RedfishProfile>, client?: RedfishClient) {
    this.#client = client ?? redfishClientFor(ctx.equipment, { logger: ctx.logger });
    this.#profile = ctx.profile;
    this.#chassis = ctx.equipment.redfish?.chassis ?? '1';
    this.#now = () => ctx.clock.now();
    this.#asset = ctx.equipment.asset;
  }

  async read(set: PointSet): Promise<PollResult> {
    if (this.#closed) throw driverClosed(this.#asset);
    const points = pointsOfSet(this.#profile.points, set);
    const byResource = new Map<string, RedfishPoint[]>();
    for (const p of points) {
      const path = resourcePath(p.resource, this.#chassis);
      byResource.set(path, [...(byResource.get(path) ?? []), p]);
    }
    const samples = new Map<string, Sample>();
    const errors: PollFailure[] = [];
    const queue = [...byResource];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [path, group] = next;
        let doc: Record<string, unknown>;
        try {
          doc = await this.#client.getResource(path);
        } catch (err) {
          const ts = this.#now();
          for (const p of group) samples.set(p.name, { point: p.name, ts, value: null, quality: Quality.bad });
          errors.push({ where: `GET ${path}`, points: group.map((p) => p.name), error: asShellguardError(err) });
          continue;
        }
        const ts = this.#now();
        for (const p of group) {
          try {
            samples.set(p.name, { point: p.name, ts, value: pointValue(p, doc, path), quality: Quality.good });
          } catch (err) {
            // One missing or null property costs its point only.
            samples.set(p.name, { point: p.name, ts, value: null, quality: Quality.bad });
            errors.push({ where: `${path}#${p.pointer}`, points: [p.name], error: asShellguardError(err) });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
    return { samples: points.map((p) => samples.get(p.name)!), errors };
  }

  /** Deletes the session (session auth) and closes the sockets; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
  }
}
