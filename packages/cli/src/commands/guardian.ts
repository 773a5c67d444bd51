import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  discoverBacnetDevices, FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION, loadGuardianConfig, measureGuardianConfig, startGuardian, writeCrashReport,
} from '@shellguard/guardian';
import { createLogger, untilSignalled } from '../logging.ts';

/** EX_TEMPFAIL: the systemd unit restarts on it (Restart=always); tests and supervisors read it as "start me again". */
export const RESTART_EXIT_CODE = 75;

export async function runGuardian(opts: { config: string }): Promise<void> {
  const config = loadGuardianConfig(opts.config);
  const logger = createLogger('guardian');
  // A crash leaves a bounded report on disk; the next start uploads it (issue 3: failure reporting).
  process.on('uncaughtException', (err) => {
    writeCrashReport(config.dataDir, err);
    logger.fatal({ err: err.message }, 'guardian crashed; a crash report was written and will be uploaded at the next start');
    process.exit(1);
  });
  const holder: { stop?: () => Promise<void> } = {};
  // The updater installed a release (or rolled one back): stop cleanly and exit so that the
  // service manager starts us again, and the launcher picks the slot to run.
  const restart = (reason: string): void => {
    logger.warn({ reason }, `restarting (exit ${RESTART_EXIT_CODE}) into the slot the updater selected`);
    void (holder.stop?.() ?? Promise.resolve()).finally(() => process.exit(RESTART_EXIT_CODE));
  };
  const guardian = await startGuardian(config, { logger, configFile: opts.config, restart });
  holder.stop = () => guardian.stop();
  const sig = await untilSignalled();
  logger.info({ signal: sig }, 'stopping');
  await guardian.stop();
}

/** Prints the device id (creating the identity key on first use): what an operator claims. */
export async function printGuardianId(opts: { dataDir: string }): Promise<void> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const keys = await FileKeyStore.open(opts.dataDir);
  process.stdout.write(`${keys.deviceId}\n`);
}

/**
 * Prints the release manifest (reference values) of this guardian as installed with this config:
 * what an engineer registers for the device's group with `shellguard group release`.
 */
export async function printGuardianMeasurements(opts: { config: string }): Promise<void> {
  const config = loadGuardianConfig(opts.config);
  const components = await measureGuardianConfig(config, opts.config);
  const manifest = { swname: GUARDIAN_SWNAME, swversion: GUARDIAN_VERSION, components };
  process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
}

export function readText(file: string): string {
  return readFileSync(path.resolve(file), 'utf8');
}

export interface BacnetDiscoverOptions { broadcast: string; port: number; timeoutMs: number; low?: number; high?: number; json?: boolean; unicast?: boolean }

/**
 * Commissioning: a Who-Is on the plant network (or to one address) and the I-Am of every BACnet
 * device that answers, with what a guardian.yaml equipment entry needs (host, port, deviceInstance,
 * route). Read-only like the driver: Who-Is is the only datagram it sends.
 */
export async function discoverBacnet(o: BacnetDiscoverOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const found = await discoverBacnetDevices({
    broadcastAddress: o.broadcast, port: o.port, timeoutMs: o.timeoutMs, ...(o.unicast ? { unicast: true } : {}),
    ...(o.low !== undefined || o.high !== undefined ? { range: { low: o.low ?? 0, high: o.high ?? 4_194_303 } } : {}),
  });
  if (o.json) {
    out(JSON.stringify(found));
    return found.length;
  }
  if (found.length === 0) {
    out(`no BACnet device answered a Who-Is to ${o.broadcast}:${o.port} within ${o.timeoutMs} ms; check the address (a directed broadcast such as 10.1.2.255, or one device's address), that UDP ${o.port} is open, and for routed networks that a BBMD forwards broadcasts`);
    return 0;
  }
  out('deviceInstance  host:port              route           maxApdu  segmentation  vendor');
  for (const d of found) {
    const route = d.route ? `${d.route.network}/${d.route.address}` : '-';
    out(`${String(d.deviceInstance).padEnd(16)}${`${d.host}:${d.port}`.padEnd(23)}${route.padEnd(16)}${String(d.maxApdu).padEnd(9)}${d.segmentation.padEnd(14)}${d.vendorId}`);
  }
  return found.length;
}
