import { writeFileSync, mkdirSync } from 'node:fs';
import { FileKeyStore, loadGuardianConfig, startGuardian } from '@shellguard/guardian';
import { createLogger, untilSignalled } from '../logging.ts';

export async function runGuardian(opts: { config: string }): Promise<void> {
  const config = loadGuardianConfig(opts.config);
  const logger = createLogger('guardian');
  const guardian = await startGuardian(config, { logger });
  const sig = await untilSignalled();
  logger.info({ signal: sig }, 'stopping');
  await guardian.stop();
}

export async function writeGuardianCsr(opts: { dataDir: string; out: string }): Promise<void> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const keys = await FileKeyStore.open(opts.dataDir);
  writeFileSync(opts.out, await keys.createCsr());
  process.stdout.write(`device id ${keys.deviceId}\nCSR written to ${opts.out}\n`);
}
