/**
 * The panels → signal towers a guardian may drive, fixed at start from its configuration. Code that
 * acts on a panel (a work order released to it, a door opened) asks `towerFor(panel)` and gets
 * that panel's client or a `tower_not_allowed` refusal, so nothing can make the guardian address a
 * host that is not a configured tower.
 */
import { PnsTowerClient, type PnsTowerClientOptions, type TowerLogger } from './pns-tower-client.ts';
import { TowerError } from './tower-error.ts';

export interface TowerAssignment {
  /** The panel's asset id. */
  panel: string;
  host: string;
  port: number;
  /** Overrides the list's timeoutMs for this tower. */
  timeoutMs?: number;
}

export interface TowerAllowListOptions {
  /** Default for every tower (see PnsTowerClientOptions). */
  timeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  logger?: TowerLogger;
  /** Builds each client (inject for tests). Default `new PnsTowerClient(options)`. */
  createClient?: (options: PnsTowerClientOptions) => PnsTowerClient;
}

export class TowerAllowList {
  readonly #clients = new Map<string, PnsTowerClient>();

  /**
   * Refuses (`tower_config_invalid`) a panel listed twice, and two panels on one tower address:
   * a shared tower would show one panel's state on the other's.
   */
  constructor(towers: readonly TowerAssignment[], options: TowerAllowListOptions = {}) {
    const create = options.createClient ?? ((o: PnsTowerClientOptions) => new PnsTowerClient(o));
    const byAddress = new Map<string, string>();
    for (const t of towers) {
      if (this.#clients.has(t.panel)) {
        throw new TowerError('tower_config_invalid', `panel ${t.panel} is given more than one signal tower`, { panel: t.panel });
      }
      const client = create({
        panel: t.panel,
        host: t.host,
        port: t.port,
        timeoutMs: t.timeoutMs ?? options.timeoutMs,
        backoffInitialMs: options.backoffInitialMs,
        backoffMaxMs: options.backoffMaxMs,
        logger: options.logger,
      });
      const other = byAddress.get(client.address.toLowerCase());
      if (other !== undefined) {
        throw new TowerError('tower_config_invalid', `panels ${other} and ${t.panel} are both given the tower at ${client.address}; each panel needs its own`, {
          panel: t.panel, tower: client.address, otherPanel: other,
        });
      }
      byAddress.set(client.address.toLowerCase(), t.panel);
      this.#clients.set(t.panel, client);
    }
  }

  /** The client of `panel`'s tower; `tower_not_allowed` for a panel without a configured tower. */
  towerFor(panel: string): PnsTowerClient {
    const client = typeof panel === 'string' ? this.#clients.get(panel) : undefined;
    if (!client) {
      throw new TowerError('tower_not_allowed', `no signal tower is configured for panel ${String(panel)}; nothing was sent`, {
        panel: String(panel), configured: this.panels(),
      });
    }
    return client;
  }

  has(panel: string): boolean {
    return this.#clients.has(panel);
  }

  /** The configured panels, in configuration order. */
  panels(): string[] {
    return [...this.#clients.keys()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
  }
}
