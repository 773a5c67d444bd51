import { loadServerConfig, startServer } from '@shellguard/server';
import { createLogger, untilSignalled } from '../logging.ts';

export async function runServer(opts: { config: string }): Promise<void> {
  const config = loadServerConfig(opts.config);
  const logger = createLogger('server');
  const server = await startServer(config, { logger });
  if (server.adminToken) {
    // Shown once, on the terminal only (never in the log): only its hash is stored.
    process.stdout.write(`admin API token (shown once, store it now): ${server.adminToken}\n`);
  }
  process.stdout.write(`API https://${config.api.host}:${server.apiPort}/api/v1  broker mqtts://${config.mqtt.host}:${server.mqttPort}\n`);
  const sig = await untilSignalled();
  logger.info({ signal: sig }, 'stopping');
  await server.stop();
}
