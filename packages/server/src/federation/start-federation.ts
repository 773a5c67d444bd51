/**
 * The server's part in the fleet (config `federation`, issue 12): a site connects to its own
 * nats-server and exports what flows; a centre connects to the hub and keeps the fleet view.
 */
import type { Logger } from 'pino';
import { errorMessage, type Clock } from '@shellguard/protocol';
import type { FederationConfig } from '../config/config.ts';
import { JetStreamBus } from '../bus/jetstream-bus.ts';
import { centralFleetStream, siteBusOptions, type SiteBusLayout } from '../bus/federation.ts';
import type { SqlExecutor } from '../db/sql-database.ts';
import { fleetFlowSubject, type FleetKind } from './fleet-record.ts';
import { SiteExporter, type FleetSource } from './site-exporter.ts';
import { CentralView } from './central-view.ts';
import { SqlCentralStore } from './sql-central-store.ts';

export interface Federation {
  /** A site's exporter (role site). */
  readonly exporter?: SiteExporter;
  /** The centre's view (role central). */
  readonly central?: CentralView;
  status(): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * How a site server lays out its federation bus: what flows is `fleet.<site>.>` (the export
 * stream); the site's nats-server links to the hub with `siteLeafRemote(siteFederationLayout(site), hubUrl)`
 * (bus/federation.ts), naming any other stream on that server (e.g. scale-out's) in `privateStreams`.
 */
export function siteFederationLayout(site: string, privateStreams: readonly string[] = []): SiteBusLayout {
  return { site, localSubjects: [`site-local.${site}.>`], flowSubjects: [fleetFlowSubject(site)], privateStreams };
}

export interface FederationDeps {
  db: SqlExecutor;
  logger: Logger;
  clock: Clock;
  /** Every kind a site can export; only those in `flow` are read. */
  sources: Record<FleetKind, FleetSource>;
}

export async function startFederation(config: FederationConfig, deps: FederationDeps): Promise<Federation> {
  const log = deps.logger.child({ part: 'federation' });
  const busLog = { warn: (d: Record<string, unknown>, m: string) => log.warn(d, m), error: (d: Record<string, unknown>, m: string) => log.error(d, m) };
  const unreachable = (err: unknown): never => {
    // The URL is not echoed: it may hold credentials.
    throw new Error(`cannot reach the fleet's nats-server (federation.url in server.yaml): ${errorMessage(err)}; is nats-server running with JetStream?`);
  };
  if (config.role === 'site') {
    const bus = await JetStreamBus.connect({
      servers: config.url, connectionName: `shellguard site ${config.site}`, clock: deps.clock, log: busLog,
      // Only `fleet.<site>.>` flows (the export stream); the local stream holds nothing of ours.
      ...siteBusOptions(siteFederationLayout(config.site)),
    }).catch(unreachable);
    const sources = Object.fromEntries(config.flow.map((k) => [k, deps.sources[k]]));
    const exporter = new SiteExporter({
      bus, site: config.site, sources, clock: deps.clock, intervalMs: config.intervalMs,
      onError: (err, kind) => log.warn({ kind, err: errorMessage(err) }, 'could not export to the site\'s bus; will retry'),
    });
    log.info({ site: config.site, flow: config.flow }, 'exporting to the fleet');
    return {
      exporter,
      status: () => ({ role: 'site', site: config.site, flow: config.flow, ...exporter.stats() }),
      async close() {
        await exporter.stop();
        await bus.close();
      },
    };
  }
  const bus = await JetStreamBus.connect({
    servers: config.url, connectionName: 'shellguard centre', clock: deps.clock, log: busLog,
    streams: [centralFleetStream({ sites: config.sites.map((site) => ({ site, flowSubjects: [fleetFlowSubject(site)] })) })],
  }).catch(unreachable);
  const central = new CentralView({
    bus, store: new SqlCentralStore(deps.db), sites: config.sites, now: deps.clock.now,
    onRefused: (err, id) => log.warn({ id, err: errorMessage(err) }, 'refused a fleet record'),
  });
  try {
    await central.start();
  } catch (err) {
    await bus.close();
    throw err;
  }
  log.info({ sites: config.sites }, 'keeping the fleet view of the sites');
  return {
    central,
    status: () => ({ role: 'central', sites: config.sites, ...central.stats() }),
    async close() {
      await central.stop();
      await bus.close();
    },
  };
}
