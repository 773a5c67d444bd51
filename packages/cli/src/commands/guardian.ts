import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  FileKeyStore, GUARDIAN_SWNAME, GUARDIAN_VERSION, loadGuardianConfig, measureGuardianConfig, startGuardian, writeCrashReport,
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
